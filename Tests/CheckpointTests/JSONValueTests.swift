@testable import Checkpoint
import Foundation
import HDF5
import SampleFixtures
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

/// The one-pass reader behind `JSONValue.parse` against Foundation's `JSONDecoder` (an
/// independent parser) on every JSON document the samples hold, and on the corners of the grammar.
@Suite struct JSONReaderTests {
    /// Every `.json` file under samples/, every JSON member of a `.keras` sample, and every legacy
    /// file's `model_config` / `training_config` attribute.
    static func sampleDocuments() throws -> [(String, Data)] {
        let root = Samples.path("")
        var documents: [(String, Data)] = []
        let files = try #require(FileManager.default.enumerator(atPath: root)).compactMap { $0 as? String }.sorted()
        for file in files {
            let path = root + "/" + file
            if file.hasSuffix(".json") {
                documents.append((file, try Data(contentsOf: URL(fileURLWithPath: path))))
            } else if file.hasSuffix(".keras"), let archive = try? ZipArchive(path: path) {
                for member in archive.members where member.name.hasSuffix(".json") {
                    documents.append((file + ":" + member.name, try archive.read(member)))
                }
            } else if file.hasSuffix(".h5"), let hdf5 = try? HDF5.File.open(path), let group = try? hdf5.root() {
                for name in ["model_config", "training_config"] {
                    if case .strings(let texts)? = try? group.attribute(name), let text = texts.first {
                        documents.append((file + "@" + name, Data(text.utf8)))
                    }
                }
            }
        }
        return documents
    }

    /// Equal, a NaN equal to a NaN.
    static func same(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
        switch (a, b) {
        case (.number(let x)?, .number(let y)?): return x == y || (x.isNaN && y.isNaN)
        case (.array(let x)?, .array(let y)?): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.object(let x)?, .object(let y)?): return x.keys == y.keys && x.allSatisfy { same($0.value, y[$0.key]) }
        default: return a == b
        }
    }

    /// (JSONDecoder with JSON5 allowed, for the bare NaN and Infinity Python writes.)
    @Test func everySampleDocumentReadsAsJSONDecoderReadsIt() throws {
        let documents = try Self.sampleDocuments()
        #expect(documents.filter { $0.0.hasSuffix("config.json") }.count >= 20)
        #expect(documents.filter { $0.0.hasSuffix("@model_config") }.count >= 10)
        #expect(documents.contains { String(decoding: $0.1, as: UTF8.self).contains(": NaN") }, "a sample config holds NaN")
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        for (name, data) in documents {
            let expected = try? decoder.decode(JSONValue.self, from: data)
            #expect(expected != nil, "\(name): JSONDecoder reads it")
            #expect(Self.same(JSONValue.parse(data), expected), "\(name)")
        }
    }

    @Test func stringsDecodeEveryEscape() throws {
        let text = #"["plain", "q\"b\\s\/n\nt\tr\rb\bf\f", "\u00e9\u4e2d", "\ud83d\ude00", "lone \ud800 high", "é中😀", ""]"#
        let parsed = try #require(JSONValue.parse(text)?.array?.map(\.string))
        #expect(parsed == ["plain", "q\"b\\s/n\nt\tr\rb\u{8}f\u{c}", "é中", "😀", "lone \u{FFFD} high", "é中😀", ""])
    }

    /// What Python's json module writes for float('nan') and float('inf'), so what Keras can store.
    @Test func pythonsNonFiniteNumbersAreRead() throws {
        let parsed = try #require(JSONValue.parse(#"{"a": NaN, "b": Infinity, "c": -Infinity, "d": -0.0}"#))
        #expect(parsed["a"]?.number?.isNaN == true)
        #expect(parsed["b"]?.number == .infinity)
        #expect(parsed["c"]?.number == -.infinity)
        #expect(parsed["d"]?.number?.sign == .minus)
    }

    @Test func numbersAreReadFromTheirDigits() throws {
        let literals = ["0", "-0", "1", "123456789012345678", "1.5", "-2.25e-3", "1E+2", "3e-320", "0.1", "9007199254740993",
                        "0.10000000000000000555", "1.7976931348623157e308"]
        for literal in literals {
            #expect(JSONValue.parse(literal)?.number == Double(literal), "\(literal)")
        }
    }

    @Test func objectsAndArraysNest() throws {
        let parsed = try #require(JSONValue.parse("\u{FEFF}{\"a\": {\"b\": [1, [], {}, [true, false, null]]}, \"a\": 2 } \n"))
        #expect(parsed == .object(["a": .number(2)]), "a key given twice keeps its last value")
        #expect(JSONValue.parse(#" { "x" : [ 1 , { "y" : [ ] } ] } "#) == .object(["x": .array([.number(1), .object(["y": .array([])])])]))
        let deep = String(repeating: "[", count: JSONReader.maxDepth) + String(repeating: "]", count: JSONReader.maxDepth)
        #expect(JSONValue.parse(deep) != nil)
        let deeper = String(repeating: "[", count: JSONReader.maxDepth + 1) + String(repeating: "]", count: JSONReader.maxDepth + 1)
        #expect(JSONValue.parse(deeper) == nil)
        #expect(JSONValue.parse(String(repeating: "{\"a\":", count: 100_000)) == nil, "a hostile depth is refused, not a stack overflow")
    }

    @Test(arguments: ["", " ", "{", "}", "[1,]", "{\"a\":1,}", "{a:1}", "{\"a\" 1}", "[1 2]", "01", "1.", ".5", "+1", "-", "1e",
                      "0x10", "nan", "inf", "-NaN", "tru", "nul", "\"unterminated", "\"tab\there\"", "\"\\x\"", "\"\\u12\"",
                      "[1] 2", "\"a\"\"b\"", "'single'", "[NaN,]"])
    func invalidDocumentsAreNil(_ text: String) {
        #expect(JSONValue.parse(text) == nil)
    }

    @Test func invalidUTF8IsNil() {
        #expect(JSONValue.parse(Data([0x22, 0xC3, 0x28, 0x22])) == nil)
        #expect(JSONValue.parse(Data([0x22, 0xC3, 0xA9, 0x22])) == .string("é"))
        #expect(JSONValue.parse(Data([0x5B, 0x22, 0x5C, 0x6E, 0xFF, 0x22, 0x5D])) == nil)
    }
}
