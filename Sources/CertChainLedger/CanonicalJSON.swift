/// The bytes Foundation's `JSONEncoder` writes with `[.sortedKeys, .withoutEscapingSlashes]` on Linux (keys sorted
/// by their UTF-8 bytes; `"`, `\` and control characters escaped exactly as its JSONWriter does; optionals left
/// out when nil), produced without its per-value type checks and boxing: state records are encoded once per block
/// for every key a block changes, and Foundation's encoder showed as the largest cost of execution after the
/// signature checks. `CanonicalJSONTests` holds it to Foundation's output byte for byte.
enum CanonicalJSON {
    /// Encodes `value` (plain structs of strings, integers, booleans, arrays and string-keyed maps).
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = ValueEncoder()
        try value.encode(to: encoder)
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(encoder.storage.value ?? .object(Box()), to: &out)
        return out
    }

    /// A JSON value under construction; objects and arrays are boxes so that nested containers fill them in place,
    /// and a value handed to a nested encoder (`nestedContainer`, `superEncoder`) is the slot that encoder fills.
    enum Value {
        case string(String)
        case number(String)
        case bool(Bool)
        case null
        case array(ArrayBox)
        case object(Box)
        case deferred(Slot)
    }

    /// An object's members, in the order written (sorted when serialized; a key written again replaces its value).
    final class Box {
        var members: [(key: String, value: Value)] = []

        /// Writes `value` under `key`.
        func set(_ key: String, _ value: Value) { members.append((key, value)) }
    }

    /// An array's elements.
    final class ArrayBox {
        var elements: [Value] = []
    }

    /// Where an encoder's single value goes.
    final class Slot {
        var value: Value?
    }

    static func write(_ value: Value, to out: inout [UInt8]) {
        switch value {
        case .string(let string): writeString(string, to: &out)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .bool(let flag): out.append(contentsOf: flag ? "true".utf8 : "false".utf8)
        case .null: out.append(contentsOf: "null".utf8)
        // A nested encoder given nothing to encode writes an empty object, as Foundation's does.
        case .deferred(let slot): write(slot.value ?? .object(Box()), to: &out)
        case .array(let box):
            out.append(UInt8(ascii: "["))
            for (index, element) in box.elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let box):
            out.append(UInt8(ascii: "{"))
            // Stable sort by key bytes; of equal keys only the last written counts (as in Foundation's dictionary).
            let sorted = box.members.enumerated().sorted {
                $0.element.key == $1.element.key ? $0.offset < $1.offset : $0.element.key.utf8.lexicographicallyPrecedes($1.element.key.utf8)
            }
            var first = true
            for (position, (_, member)) in sorted.enumerated() {
                if position + 1 < sorted.count && sorted[position + 1].element.key == member.key { continue }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A quoted string escaped as Foundation's JSONWriter escapes it (slashes left alone).
    static func writeString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escape: copied whole from their contiguous UTF-8.
        var contiguous = string
        let copied = contiguous.withUTF8 { bytes in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied {
            out.append(UInt8(ascii: "\""))
            return
        }
        let hex = Array("0123456789abcdef".utf8)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0c: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0a: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0d: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00...0x1f:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xf)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The Encoder handed to `encode(to:)`: one value, or the container asked for.
    final class ValueEncoder: Encoder {
        let storage = Slot()

        /// A value of `box`'s (a member or an element) that this encoder fills.
        var deferred: Value { .deferred(storage) }
        var codingPath: [any CodingKey] { [] }
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            let box: Box
            if case .object(let existing) = storage.value {
                box = existing
            } else {
                box = Box()
                storage.value = .object(box)
            }
            return KeyedEncodingContainer(KeyedContainer<Key>(box: box))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            let box: ArrayBox
            if case .array(let existing) = storage.value {
                box = existing
            } else {
                box = ArrayBox()
                storage.value = .array(box)
            }
            return UnkeyedContainer(box: box)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { SingleContainer(slot: storage) }
    }

    /// The value of a nested `Encodable`: a primitive directly, anything else through its own `encode(to:)`.
    static func value<T: Encodable>(of value: T) throws -> Value {
        switch value {
        case let string as String: return .string(string)
        case let flag as Bool: return .bool(flag)
        case let number as Int: return .number(String(number))
        case let number as Int64: return .number(String(number))
        case let number as UInt64: return .number(String(number))
        case let number as Int32: return .number(String(number))
        case let number as UInt32: return .number(String(number))
        case let number as UInt: return .number(String(number))
        default:
            let encoder = ValueEncoder()
            try value.encode(to: encoder)
            return encoder.storage.value ?? .object(Box())
        }
    }

    struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let box: Box
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil(forKey key: Key) throws { box.set(key.stringValue, .null) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { box.set(key.stringValue, .bool(value)) }
        mutating func encode(_ value: String, forKey key: Key) throws { box.set(key.stringValue, .string(value)) }
        mutating func encode(_ value: Int, forKey key: Key) throws { box.set(key.stringValue, .number(String(value))) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { box.set(key.stringValue, .number(String(value))) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { box.set(key.stringValue, .number(String(value))) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            box.set(key.stringValue, try CanonicalJSON.value(of: value))
        }

        /// An encoder whose value becomes the member `key`.
        func nestedEncoder(_ key: String) -> ValueEncoder {
            let encoder = ValueEncoder()
            box.set(key, encoder.deferred)
            return encoder
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey>
        {
            nestedEncoder(key.stringValue).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            nestedEncoder(key.stringValue).unkeyedContainer()
        }

        mutating func superEncoder() -> any Encoder { nestedEncoder("super") }
        mutating func superEncoder(forKey key: Key) -> any Encoder { nestedEncoder(key.stringValue) }
    }

    struct UnkeyedContainer: UnkeyedEncodingContainer {
        let box: ArrayBox
        var codingPath: [any CodingKey] { [] }
        var count: Int { box.elements.count }

        mutating func encodeNil() throws { box.elements.append(.null) }
        mutating func encode(_ value: Bool) throws { box.elements.append(.bool(value)) }
        mutating func encode(_ value: String) throws { box.elements.append(.string(value)) }
        mutating func encode(_ value: Int) throws { box.elements.append(.number(String(value))) }
        mutating func encode<T: Encodable>(_ value: T) throws { box.elements.append(try CanonicalJSON.value(of: value)) }

        /// An encoder whose value becomes the next element.
        func nestedEncoder() -> ValueEncoder {
            let encoder = ValueEncoder()
            box.elements.append(encoder.deferred)
            return encoder
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            nestedEncoder().container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { nestedEncoder().unkeyedContainer() }

        mutating func superEncoder() -> any Encoder { nestedEncoder() }
    }

    struct SingleContainer: SingleValueEncodingContainer {
        let slot: Slot
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil() throws { slot.value = .null }
        mutating func encode(_ value: Bool) throws { slot.value = .bool(value) }
        mutating func encode(_ value: String) throws { slot.value = .string(value) }
        mutating func encode(_ value: Int) throws { slot.value = .number(String(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { slot.value = try CanonicalJSON.value(of: value) }
    }
}
