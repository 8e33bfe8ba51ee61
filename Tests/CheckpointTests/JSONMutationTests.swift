import Checkpoint
import Foundation
import Testing

/// The JSON reader on damaged documents: mutants of sample configs (bytes replaced, inserted,
/// deleted, the text cut short). It must never trap, and where Foundation's JSONDecoder also reads
/// a mutant both must give the same value. (They differ in what they accept at the edges, by
/// design: the reader refuses the trailing commas and the NUL after a document that JSONDecoder
/// lets pass, as Python's json does, and reads numbers beyond Double's range as ±Infinity, as
/// Python does, where JSONDecoder refuses them.)
@Suite struct JSONMutationTests {
    struct LCG {
        var state: UInt64
        mutating func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33)
        }
    }

    static let seeds = ["era/k3_rnn.keras:config.json", "k3/pretrained.keras:config.json", "era/k3_masking_nan.keras:config.json"]

    @Test func mutantsNeverTrapAndAgreeWithJSONDecoderWhereBothRead() throws {
        let documents = try JSONReaderTests.sampleDocuments().filter { Self.seeds.contains($0.0) }.map { [UInt8]($0.1) }
        #expect(documents.count == Self.seeds.count)
        for document in documents { #expect(JSONValue.parse(Data(document)) != nil, "a seed document reads") }
        var random = LCG(state: 20_261_202)
        let alphabet = Array("{}[]\",:0123456789.eE+-\\u tfnrNaIy\u{0}\u{1f}é".utf8)
        let decoder = JSONDecoder()
        var bothRead = 0
        for round in 0..<3000 {
            var bytes = documents[random.next() % documents.count]
            for _ in 0..<(1 + random.next() % 3) where !bytes.isEmpty {
                let at = random.next() % bytes.count
                switch random.next() % 4 {
                case 0: bytes[at] = alphabet[random.next() % alphabet.count]
                case 1: bytes.insert(alphabet[random.next() % alphabet.count], at: at)
                case 2: bytes.remove(at: at)
                default: bytes = Array(bytes[..<at])
                }
            }
            let data = Data(bytes)
            guard let ours = JSONValue.parse(data), let theirs = try? decoder.decode(JSONValue.self, from: data) else { continue }
            bothRead += 1
            #expect(JSONReaderTests.same(ours, theirs), "mutant \(round)")
        }
        #expect(bothRead > 300)
    }
}
