import Foundation

/// Reads JSON text straight into a `JSONValue`, in one pass over the bytes.
///
/// Foundation's JSONSerialization builds a tree of boxed Foundation objects first, which for the
/// large configs Keras stores took about 40 bytes of memory per byte of JSON while it lived beside
/// the converted value (a 1,600-layer `.keras` config of 0.9 MB: 42 MiB of an `inspect`'s peak);
/// a Codable decode of the recursive enum is lean but slower (every value tries the types in
/// turn, each miss a thrown error). This reader keeps only the result.
///
/// It reads RFC 8259 JSON, plus what Python's `json` module writes and reads by default and
/// Keras therefore can store: `NaN`, `Infinity` and `-Infinity`. Numbers keep their exact value
/// (each is read from its digits, correctly rounded); strings must be valid UTF-8, escapes
/// decoded (a `\u` escape of a lone surrogate, which Swift strings cannot hold, becomes U+FFFD);
/// a key given twice keeps its last value, as Python does. Nesting deeper than `maxDepth` is
/// refused, so a hostile file cannot exhaust the stack. A leading UTF-8 byte order mark is
/// skipped.
struct JSONReader {
    /// Deeper than any Keras config (they nest a few dozen levels) and shallow enough for the
    /// smallest thread stack it runs on.
    static let maxDepth = 512

    struct Invalid: Error {}

    private let bytes: [UInt8]
    private var at = 0
    private var depth = 0

    /// The document `data` holds, or nil when it is not JSON.
    static func parse(_ data: Data) -> JSONValue? {
        var reader = JSONReader(bytes: [UInt8](data))
        return try? reader.document()
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private mutating func document() throws -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { at = 3 }
        let value = try self.value()
        skipSpace()
        guard at == bytes.count else { throw Invalid() }
        return value
    }

    private mutating func skipSpace() {
        while at < bytes.count {
            switch bytes[at] {
            case 0x20, 0x09, 0x0A, 0x0D: at += 1
            default: return
            }
        }
    }

    private mutating func value() throws -> JSONValue {
        skipSpace()
        guard at < bytes.count else { throw Invalid() }
        switch bytes[at] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "N"): try literal("NaN"); return .number(.nan)
        case UInt8(ascii: "I"): try literal("Infinity"); return .number(.infinity)
        case UInt8(ascii: "-") where at + 1 < bytes.count && bytes[at + 1] == UInt8(ascii: "I"):
            at += 1
            try literal("Infinity")
            return .number(-.infinity)
        default: return .number(try number())
        }
    }

    private mutating func literal(_ word: String) throws {
        guard bytes[at...].starts(with: word.utf8) else { throw Invalid() }
        at += word.utf8.count
    }

    /// Past an opening bracket, one level deeper (refused beyond `maxDepth`): true, past the
    /// closing bracket too, when the container is empty (`{}`, `[]`).
    private mutating func open(closing: UInt8) throws -> Bool {
        depth += 1
        guard depth <= Self.maxDepth else { throw Invalid() }
        at += 1
        skipSpace()
        guard at < bytes.count, bytes[at] == closing else { return false }
        at += 1
        depth -= 1
        return true
    }

    /// After a member: true past a comma (another member follows), false past the closing
    /// bracket (one level up again); anything else is not JSON.
    private mutating func another(closing: UInt8) throws -> Bool {
        skipSpace()
        guard at < bytes.count else { throw Invalid() }
        if bytes[at] == UInt8(ascii: ",") {
            at += 1
            return true
        }
        guard bytes[at] == closing else { throw Invalid() }
        at += 1
        depth -= 1
        return false
    }

    private mutating func object() throws -> JSONValue {
        var fields: [String: JSONValue] = [:]
        if try open(closing: UInt8(ascii: "}")) { return .object(fields) }
        repeat {
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw Invalid() }
            let key = try string()
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw Invalid() }
            at += 1
            fields[key] = try value()
        } while try another(closing: UInt8(ascii: "}"))
        return .object(fields)
    }

    private mutating func array() throws -> JSONValue {
        var items: [JSONValue] = []
        if try open(closing: UInt8(ascii: "]")) { return .array(items) }
        repeat {
            items.append(try value())
        } while try another(closing: UInt8(ascii: "]"))
        return .array(items)
    }

    /// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, read from its digits.
    private mutating func number() throws -> Double {
        let start = at
        func digits() -> Int {
            let first = at
            while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
            return at - first
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
        let leadingZero = at < bytes.count && bytes[at] == UInt8(ascii: "0")
        let whole = digits()
        guard whole > 0, !(leadingZero && whole > 1) else { throw Invalid() }
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            at += 1
            guard digits() > 0 else { throw Invalid() }
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard digits() > 0 else { throw Invalid() }
        }
        guard let value = Double(String(decoding: bytes[start..<at], as: UTF8.self)) else { throw Invalid() }
        return value
    }

    /// A string from its opening quote to past its closing one.
    private mutating func string() throws -> String {
        at += 1
        let start = at
        // The common case: no escapes, so the bytes are the string.
        while at < bytes.count, bytes[at] != UInt8(ascii: "\""), bytes[at] != UInt8(ascii: "\\"), bytes[at] >= 0x20 { at += 1 }
        guard at < bytes.count, bytes[at] >= 0x20 else { throw Invalid() }
        if bytes[at] == UInt8(ascii: "\"") {
            defer { at += 1 }
            guard let text = String(validating: bytes[start..<at], as: UTF8.self) else { throw Invalid() }
            return text
        }
        var utf8 = Array(bytes[start..<at])
        while true {
            guard at < bytes.count else { throw Invalid() }
            let byte = bytes[at]
            if byte == UInt8(ascii: "\"") {
                at += 1
                break
            }
            guard byte >= 0x20 else { throw Invalid() }
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                at += 1
                continue
            }
            guard at + 1 < bytes.count else { throw Invalid() }
            at += 2
            switch bytes[at - 1] {
            case UInt8(ascii: "\""): utf8.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): utf8.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): utf8.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") {
                    let resume = at
                    at += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + (code - 0xD800) << 10 + (low - 0xDC00)
                    } else {
                        at = resume  // not a pair: the second escape is read on its own
                    }
                }
                utf8.append(contentsOf: String(Character(Unicode.Scalar(code) ?? "\u{FFFD}")).utf8)
            default: throw Invalid()
            }
        }
        guard let text = String(validating: utf8, as: UTF8.self) else { throw Invalid() }
        return text
    }

    private mutating func hex4() throws -> UInt32 {
        guard at + 4 <= bytes.count else { throw Invalid() }
        var code: UInt32 = 0
        for byte in bytes[at..<at + 4] {
            guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { throw Invalid() }
            code = code << 4 | UInt32(digit)
        }
        at += 4
        return code
    }
}
