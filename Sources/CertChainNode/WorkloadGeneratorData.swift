import Foundation

/// The reference data and name pools of the workload generator (the same tables as shared/workload/generate.py).
enum WorkloadTables {
    /// One row of the commodity table.
    struct Commodity {
        let hsCode: String
        let name: String
        let unit: String
        let unitCode: String
        let vatRate: String
        let refundRate: String
        let validFrom: String
        let validTo: String?
        /// Typical unit price in cents of USD.
        let priceCents: Int64
        /// Measured by weight (千克): quantities carry 4 decimals.
        var byWeight: Bool { unitCode == "035" }
    }

    static let commodities: [Commodity] = [
        Commodity(hsCode: "8529909090", name: "LED模组", unit: "千克", unitCode: "035", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 3678),
        Commodity(hsCode: "8517130000", name: "智能手机", unit: "台", unitCode: "001", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 18200),
        Commodity(hsCode: "8471300000", name: "便携式自动数据处理设备", unit: "台", unitCode: "001", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 41500),
        Commodity(hsCode: "8504401400", name: "电源适配器", unit: "个", unitCode: "007", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 385),
        Commodity(hsCode: "8544422100", name: "电缆", unit: "千克", unitCode: "035", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 620),
        Commodity(hsCode: "9405409000", name: "LED灯具", unit: "个", unitCode: "007", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 940),
        Commodity(hsCode: "8516500000", name: "微波炉", unit: "台", unitCode: "001", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 4800),
        Commodity(hsCode: "6110200090", name: "棉制针织套头衫", unit: "件", unitCode: "011", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 730),
        Commodity(hsCode: "6203420090", name: "棉制男式长裤", unit: "件", unitCode: "011", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 810),
        Commodity(hsCode: "6402991900", name: "橡胶或塑料外底鞋", unit: "双", unitCode: "025", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 660),
        Commodity(hsCode: "9503008900", name: "玩具", unit: "千克", unitCode: "035", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 550),
        Commodity(hsCode: "3926909090", name: "塑料制品", unit: "千克", unitCode: "035", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 310),
        Commodity(hsCode: "4202220000", name: "塑料或纺织材料面手提包", unit: "个", unitCode: "007", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 490),
        Commodity(hsCode: "8518300000", name: "耳机", unit: "个", unitCode: "007", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 275),
        Commodity(hsCode: "8507600090", name: "锂离子蓄电池", unit: "个", unitCode: "007", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 1120),
        Commodity(hsCode: "8473309000", name: "计算机零件", unit: "千克", unitCode: "035", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 2800),
        Commodity(hsCode: "7604291000", name: "铝合金型材", unit: "千克", unitCode: "035", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: "2024-11-30", priceCents: 360),
        Commodity(hsCode: "7408110000", name: "精炼铜丝", unit: "千克", unitCode: "035", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: "2024-11-30", priceCents: 980),
        Commodity(hsCode: "0306171900", name: "冻虾", unit: "千克", unitCode: "035", vatRate: "0.09", refundRate: "0.09", validFrom: "2019-04-01", validTo: nil, priceCents: 890),
        Commodity(hsCode: "2008999000", name: "水果罐头", unit: "千克", unitCode: "035", vatRate: "0.09", refundRate: "0.09", validFrom: "2019-04-01", validTo: nil, priceCents: 140),
        Commodity(hsCode: "7308900000", name: "钢结构体", unit: "千克", unitCode: "035", vatRate: "0.13", refundRate: "0.13", validFrom: "2019-04-01", validTo: nil, priceCents: 160),
        Commodity(hsCode: "2804619000", name: "多晶硅", unit: "千克", unitCode: "035", vatRate: "0.13", refundRate: "0.00", validFrom: "2019-04-01", validTo: nil, priceCents: 900),
    ]

    /// Commodity indexes certificates draw from (generate.py's hs_pool: every row, the two with an end date included).
    static let pool: [Int] = Array(commodities.indices)

    static let tradeModes: [(code: String, name: String, refundable: Bool)] = [
        ("0110", "一般贸易", true), ("1039", "市场采购", true), ("9610", "跨境电子商务", true),
        ("9710", "跨境电子商务企业对企业直接出口", true), ("9810", "跨境电子商务出口海外仓", true),
        ("0615", "进料对口", true), ("0214", "来料加工", false),
    ]
    /// Trade modes of the quarter of certificates that are not 一般贸易.
    static let otherTradeModes = ["1039", "9710", "9810", "0615"]

    static let currencies: [(code: String, customsCode: String)] = [
        ("USD", "502"), ("EUR", "300"), ("HKD", "110"), ("JPY", "116"), ("GBP", "303"),
    ]

    /// Approximate 2021 monthly central-parity rates (CNY per unit), by currency index then month - 1.
    static let monthlyRates: [[String]] = [
        ["6.4709", "6.4713", "6.4845", "6.5565", "6.5282", "6.3572", "6.4728", "6.4929", "6.4854", "6.4854", "6.4192", "6.3794"],
        ["7.9001", "7.8214", "7.8426", "7.6950", "7.8393", "7.8020", "7.6827", "7.6784", "7.6400", "7.4700", "7.4270", "7.2197"],
        ["0.83466", "0.83460", "0.83630", "0.84360", "0.84060", "0.81950", "0.83370", "0.83450", "0.83340", "0.83420", "0.82460", "0.81810"],
        ["0.062669", "0.061543", "0.061244", "0.059266", "0.059530", "0.058020", "0.058529", "0.058960", "0.058900", "0.057510", "0.056410", "0.055690"],
        ["8.8450", "8.8750", "9.0100", "9.0300", "9.0400", "9.0000", "8.9300", "8.9700", "8.9300", "8.8100", "8.8100", "8.5000"],
    ]

    static let customsCodes = ["5301", "5304", "5316", "5320", "5349"]

    static let surnames = Array("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢").map(String.init)
    static let given = Array("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建文辉宇鹏晨琳倩婷雪慧颖佳欣怡浩然思远志诚嘉宁").map(String.init)
    static let nameA = ["华信", "宏达", "鹏程", "科瑞", "海川", "恒通", "盛世", "创新", "联合", "伟业", "嘉禾", "瑞丰", "粤海", "新星",
                        "天成", "中科", "万邦", "迅捷", "美家", "金源", "顺达", "捷宇", "华美", "博远", "星河", "卓越", "东升", "南方"]
    static let nameB = ["电子", "科技", "实业", "照明", "智能", "精密", "光电", "电器", "服饰", "五金", "塑胶", "玩具", "通讯", "新能源"]
    static let areasSZ = ["440303", "440304", "440305", "440306", "440307", "440309", "440310", "440311"]
    static let areasDG = ["441900"]

    static let usccAlphabet: [UInt8] = Array("0123456789ABCDEFGHJKLMNPQRTUWXY".utf8)
    static let usccWeights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    static let orgCodeAlphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    static let orgCodeWeights = [3, 7, 9, 10, 5, 8, 4, 2]

    /// reference.json, printed exactly like generate.py's (json.dump, indent 1).
    static var reference: PrettyJSON {
        let orgs: [PrettyJSON] = [
            .object([("id", .string("sz-tax-2")), ("name", .string("国家税务总局深圳市税务局第二税务分局")), ("role", .string("taxBureau")),
                     ("areas", .array([.string("4403")])), ("certificatePrefix", .string("440300"))]),
            .object([("id", .string("dg-tax")), ("name", .string("国家税务总局东莞市税务局")), ("role", .string("taxBureau")),
                     ("areas", .array([.string("4419")])), ("certificatePrefix", .string("441900"))]),
            .object([("id", .string("sz-customs")), ("name", .string("中华人民共和国深圳海关")), ("role", .string("customs")),
                     ("customsCodes", .array(customsCodes.map { .string($0) }))]),
            .object([("id", .string("sz-commerce")), ("name", .string("深圳市商务局")), ("role", .string("commerce"))]),
        ]
        let commodityRows: [PrettyJSON] = commodities.map { c in
            .object([("hsCode", .string(c.hsCode)), ("name", .string(c.name)), ("unit", .string(c.unit)), ("unitCode", .string(c.unitCode)),
                     ("vatRate", .string(c.vatRate)), ("refundRate", .string(c.refundRate)), ("validFrom", .string(c.validFrom)),
                     ("validTo", c.validTo.map { .string($0) } ?? .null)])
        }
        return .object([
            ("organizations", .array(orgs)),
            ("commodities", .array(commodityRows)),
            ("tradeModes", .array(tradeModes.map { .object([("code", .string($0.code)), ("name", .string($0.name)), ("refundable", .bool($0.refundable))]) })),
            ("currencies", .array(currencies.map { .object([("code", .string($0.code)), ("customsCode", .string($0.customsCode))]) })),
            ("deadlines", .object([("certificateApplication", .string("04-15")),
                                   ("refundClaim", .object([("2021", .string("2022-04-20")), ("2022", .string("2023-04-20"))]))])),
        ])
    }
}
