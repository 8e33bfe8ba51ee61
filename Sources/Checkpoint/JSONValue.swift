public import Foundation

/// A parsed JSON document (Keras configs, shard indexes), for reading by key.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Most common first (configs are mostly strings, numbers and objects): each failed try
        // costs a thrown error.
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode([String: JSONValue].self) { self = .object(value) }
        else { self = .array(try container.decode([JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses JSON text; nil when it is not valid JSON.
    public static func parse(_ text: String) -> JSONValue? {
        parse(Data(text.utf8))
    }

    /// Parses with Foundation's JSONSerialization, about three times faster than a Codable
    /// decode of this recursive enum on the large configs Keras stores, then converts. Numbers
    /// keep their exact value: a long decimal that JSONSerialization holds as an NSDecimalNumber
    /// is re-read from its digits (its `doubleValue` can be off in the last place).
    public static func parse(_ data: Data) -> JSONValue? {
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { return nil }
        return convert(object)
    }

    private static func convert(_ object: Any) -> JSONValue? {
        switch object {
        case let dictionary as [String: Any]:
            var fields: [String: JSONValue] = [:]
            fields.reserveCapacity(dictionary.count)
            for (key, value) in dictionary {
                guard let converted = convert(value) else { return nil }
                fields[key] = converted
            }
            return .object(fields)
        case let array as [Any]:
            var items: [JSONValue] = []
            items.reserveCapacity(array.count)
            for value in array {
                guard let converted = convert(value) else { return nil }
                items.append(converted)
            }
            return .array(items)
        case let string as String:
            return .string(string)
        case is NSNull:
            return .null
        case let decimal as NSDecimalNumber:
            return .number(Double(decimal.description) ?? decimal.doubleValue)
        case let number as NSNumber:
            // JSON true/false arrive as NSNumber with the C type "c" (char); 0 and 1 as integers.
            if String(cString: number.objCType) == "c" { return .bool(number.boolValue) }
            return .number(number.doubleValue)
        default:
            return nil
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var array: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var object: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }
}
