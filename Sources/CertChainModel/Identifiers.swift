import Foundation

/// Unified social credit codes (统一社会信用代码, GB 32100-2015).
public enum TaxID {
    /// The 31 characters a code may use, in value order.
    public static let alphabet: [Character] = Array("0123456789ABCDEFGHJKLMNPQRTUWXY")
    /// Weights of the first 17 characters.
    public static let weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

    /// The check character for the first 17 characters, or nil if one is outside the alphabet.
    public static func checkCharacter(_ first17: String) -> Character? {
        let chars = Array(first17)
        guard chars.count == 17 else { return nil }
        var sum = 0
        for (c, w) in zip(chars, weights) {
            guard let v = alphabet.firstIndex(of: c) else { return nil }
            sum += v * w
        }
        return alphabet[(31 - sum % 31) % 31]
    }

    /// True if `code` is 18 alphabet characters with a correct check character.
    public static func isValid(_ code: String) -> Bool {
        let chars = Array(code)
        guard chars.count == 18, chars.allSatisfy({ alphabet.contains($0) }) else { return false }
        return checkCharacter(String(chars[0..<17])) == chars[17]
    }
}

/// Small format checks of SPEC section 2.
public enum Formats {
    /// True if `s` is exactly `count` ASCII digits.
    public static func isDigits(_ s: String, count: Int) -> Bool {
        let u = Array(s.utf8)
        return u.count == count && u.allSatisfy { $0 >= 48 && $0 <= 57 }
    }

    /// Export declaration number: 18 digits with `0` (export) in position 9.
    public static func isDeclarationNumber(_ s: String) -> Bool {
        isDigits(s, count: 18) && Array(s.utf8)[8] == 48
    }

    /// Certificate number: 18 digits (prefix 6, year 4, serial 8).
    public static func isCertificateNumber(_ s: String) -> Bool { isDigits(s, count: 18) }

    /// Claim period `YYYYMM` with a month 01...12.
    public static func isPeriod(_ s: String) -> Bool {
        guard isDigits(s, count: 6), let m = Int(s.suffix(2)) else { return false }
        return (1...12).contains(m)
    }

    /// A non-empty string without control characters, at most 512 characters.
    public static func isText(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 512 && !s.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}

/// Calendar dates `YYYY-MM-DD` (proleptic Gregorian) and day arithmetic, without Foundation calendars.
public enum CalendarDate {
    /// True for a real calendar date in `YYYY-MM-DD` form.
    public static func isValid(_ s: String) -> Bool { components(s) != nil }

    /// (year, month, day) of a valid date string.
    public static func components(_ s: String) -> (Int, Int, Int)? {
        let u = Array(s.utf8)
        guard u.count == 10, u[4] == 45, u[7] == 45 else { return nil }
        for i in [0, 1, 2, 3, 5, 6, 8, 9] where !(u[i] >= 48 && u[i] <= 57) { return nil }
        func n(_ r: Range<Int>) -> Int { r.reduce(0) { $0 * 10 + Int(u[$1] - 48) } }
        let y = n(0..<4), m = n(5..<7), d = n(8..<10)
        guard y >= 1, (1...12).contains(m), d >= 1, d <= daysInMonth(y, m) else { return nil }
        return (y, m, d)
    }

    /// Days in a month of a year.
    public static func daysInMonth(_ y: Int, _ m: Int) -> Int {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
    public static func dayNumber(_ y: Int, _ m: Int, _ d: Int) -> Int {
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The civil date of a day number.
    public static func date(dayNumber z0: Int) -> String {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func pad(_ v: Int, _ w: Int) -> String { let t = String(v); return String(repeating: "0", count: max(0, w - t.count)) + t }
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }

    /// `s` shifted by `days` (negative for earlier); nil if `s` is invalid.
    public static func adding(days: Int, to s: String) -> String? {
        guard let (y, m, d) = components(s) else { return nil }
        return date(dayNumber: dayNumber(y, m, d) + days)
    }
}

/// The business date of a block: its timestamp in China Standard Time (UTC+8, fixed offset).
public enum BlockDate {
    /// `YYYY-MM-DD` of `timestampMs` (milliseconds since the Unix epoch) at UTC+8.
    public static func string(timestampMs: Int64) -> String {
        let shifted = timestampMs + 8 * 3_600_000
        let day = shifted >= 0 ? shifted / 86_400_000 : (shifted - 86_399_999) / 86_400_000
        return CalendarDate.date(dayNumber: Int(day))
    }
}
