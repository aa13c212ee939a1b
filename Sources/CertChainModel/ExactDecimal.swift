import Foundation

/// Exact decimal money and quantity helpers over Foundation `Decimal`: strict parsing, half-up rounding, fixed-scale output.
public enum ExactDecimal {
    /// Longest accepted decimal string (characters).
    public static let lengthMax = 30
    /// The locale decimal strings are parsed in (a dot, no grouping), made once instead of per parse.
    static let posix = Locale(identifier: "en_US_POSIX")

    /// Parses `^[0-9]+(\.[0-9]+)?$` with at most `maxScale` fraction digits; nil otherwise (no sign, exponent or spaces).
    public static func parse(_ s: String, maxScale: Int) -> Decimal? {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= lengthMax else { return nil }
        var seenDot = false
        var intDigits = 0
        var fracDigits = 0
        for c in u {
            if c == 46 {
                if seenDot { return nil }
                seenDot = true
            } else if c >= 48 && c <= 57 {
                if seenDot { fracDigits += 1 } else { intDigits += 1 }
            } else {
                return nil
            }
        }
        guard intDigits > 0, !seenDot || fracDigits > 0, fracDigits <= maxScale else { return nil }
        return Decimal(string: s, locale: posix)
    }

    /// Number of fraction digits written in a decimal string.
    public static func scale(of s: String) -> Int {
        guard let dot = s.firstIndex(of: ".") else { return 0 }
        return s.distance(from: dot, to: s.endIndex) - 1
    }

    /// Rounds half away from zero (half-up for the non-negative amounts of the chain) to `scale` fraction digits.
    public static func round(_ d: Decimal, scale: Int = 2) -> Decimal {
        var x = d
        var r = Decimal()
        NSDecimalRound(&r, &x, scale, .plain)
        return r
    }

    /// Rounds half-even to `digits` significant digits, like Python's default decimal context (prec 28).
    public static func roundSignificant(_ d: Decimal, digits: Int = 28) -> Decimal {
        if d == 0 { return d }
        let magnitude = d < 0 ? -d : d
        let text = magnitude.description
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(parts[0])
        var k: Int
        if intPart != "0" {
            k = intPart.count
        } else {
            let frac = parts.count > 1 ? Array(parts[1]) : []
            k = 0
            for c in frac { if c == "0" { k -= 1 } else { break } }
        }
        var x = d
        var r = Decimal()
        NSDecimalRound(&r, &x, digits - k, .bankers)
        return r
    }

    /// round(a × b / c) to cents: the quotient first rounded to 28 significant digits (Python's context), then half-up.
    public static func mulDivRound(_ a: Decimal, _ b: Decimal, _ c: Decimal) -> Decimal {
        let product = roundSignificant(a * b)
        var p = product
        var q = c
        var r = Decimal()
        _ = NSDecimalDivide(&r, &p, &q, .plain)
        return round(roundSignificant(r), scale: 2)
    }

    /// Fixed-scale canonical string: "36408.00" for 36408 at scale 2 (rounded half-up first).
    public static func string(_ d: Decimal, scale: Int = 2) -> String {
        let r = round(d, scale: scale)
        var text = r.description
        var negative = false
        if text.hasPrefix("-") { negative = true; text.removeFirst() }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        var intPart = String(parts[0])
        if intPart.isEmpty { intPart = "0" }
        var frac = parts.count > 1 ? String(parts[1]) : ""
        if frac.count < scale { frac += String(repeating: "0", count: scale - frac.count) }
        let body = scale > 0 ? intPart + "." + frac : intPart
        return (negative && r != 0 ? "-" : "") + body
    }

    /// Shortest plain string for a value (no exponent), e.g. for stored quantities.
    public static func plain(_ d: Decimal) -> String { d.description }

    /// Parses a stored plain decimal (produced by `plain` or `string`), 0 on garbage.
    public static func stored(_ s: String) -> Decimal {
        Decimal(string: s, locale: posix) ?? 0
    }
}
