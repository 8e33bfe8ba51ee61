import Checkpoint
import Foundation
import Testing

@Suite struct JSONValueTests {
    @Test func numbersKeepTheirExactValue() throws {
        // Float32-rounded learning rates as Keras writes them, and values needing 17 digits.
        let numbers = [0.0010000000474974513, 9.999999747378752e-05, 0.05126234567891234, 1e-300, -2.5, 1000, 123456789012345]
        let text = "[" + numbers.map { "\($0)" }.joined(separator: ", ") + "]"
        let parsed = try #require(JSONValue.parse(text)?.array)
        #expect(parsed.map(\.number) == numbers.map { Optional($0) })
    }

    @Test func booleansAreNotNumbers() throws {
        let parsed = try #require(JSONValue.parse(#"{"t": true, "f": false, "one": 1, "zero": 0, "n": null, "s": "1"}"#))
        #expect(parsed["t"] == .bool(true))
        #expect(parsed["f"] == .bool(false))
        #expect(parsed["one"] == .number(1))
        #expect(parsed["zero"] == .number(0))
        #expect(parsed["n"] == .null)
        #expect(parsed["s"] == .string("1"))
    }

    @Test func invalidJSONIsNil() {
        #expect(JSONValue.parse("{") == nil)
        #expect(JSONValue.parse("") == nil)
    }

    @Test func roundTripsThroughCodable() throws {
        let value = JSONValue.object(["a": .array([.number(1.5), .bool(true), .null, .string("x")])])
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
        #expect(JSONValue.parse(data) == value)
    }
}
