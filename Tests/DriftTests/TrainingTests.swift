import Checkpoint
import Drift
import Foundation
import SampleFixtures
import Testing

/// Learning-rate schedules against Keras's own values, the stored training setup, and CSVLogger logs.
@Suite struct TrainingTests {
    static let schedules: [JSONValue] = {
        let data = try! Data(contentsOf: Samples.directory.appendingPathComponent("schedules.json"))
        return JSONValue.parse(data)!["schedules"]!.array!
    }()

    static var scheduleNames: [String] { schedules.compactMap { $0["name"]?.string } }

    /// Every schedule of samples/schedules.json is tested, once.
    @Test func everyRecordedScheduleIsNamed() {
        #expect(!Self.scheduleNames.isEmpty)
        #expect(Set(Self.scheduleNames).count == Self.schedules.count)
    }

    /// Keras computes in float32; float64 evaluation agrees to float32 rounding.
    @Test(arguments: scheduleNames)
    func scheduleMatchesKeras(_ name: String) throws {
        let entry = try #require(Self.schedules.first { $0["name"]?.string == name })
        let rate = try LearningRate(json: try #require(entry["serialized"]))
        #expect(rate.kind == entry["className"]?.string)
        let values = try #require(entry["values"]?.array)
        #expect(values.count >= 10)
        for value in values {
            let step = try #require(value["step"]?.number), keras = try #require(value["lr"]?.number)
            let ours = rate.value(at: step)
            #expect(abs(ours - keras) <= 2e-7 * max(abs(keras), 1e-3), "\(name) at step \(step): \(ours) vs Keras \(keras)")
        }
    }

    @Test func exponentialDecayStaircaseExample() throws {
        let rate = try LearningRate(json: #require(JSONValue.parse(
            #"{"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.001, "decay_steps": 1000, "decay_rate": 0.96, "staircase": true}}"#)))
        let values = [0, 1000, 2000, 3000].map { rate.value(at: Double($0)) }
        for (value, expected) in zip(values, [0.001, 0.00096, 0.0009216, 0.000884736]) {
            #expect(abs(value - expected) < 1e-18)
        }
    }

    @Test(arguments: [#"{"class_name": "Warmup", "config": {}}"#, #"{"class_name": "ExponentialDecay", "config": {}}"#,
                      #""fast""#, #"{"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 0, "decay_rate": 0.5}}"#])
    func unknownOrBrokenSchedulesAreErrors(_ json: String) throws {
        #expect(throws: ScheduleError.self) { try LearningRate(json: JSONValue.parse(json)!) }
    }

    @Test(arguments: ["k3/ft_schedule.keras", "k3/ft_schedule.h5", "tfk/ft_schedule.h5", "tfk/ft_schedule.keras"])
    func storedScheduleIsReadFromEveryLayout(_ file: String) throws {
        let checkpoint = try Checkpoint.open(Samples.path(file))
        let setup = try #require(TrainingSetup(checkpoint.optimizer))
        let truth = try #require(Samples.manifest.files[file]?.optimizer)
        #expect(setup.optimizer == truth.className)
        #expect(setup.iterations == truth.iterations.map(Int64.init))
        #expect(setup.learningRate == (try LearningRate(json: #require(truth.learningRate))))
        #expect(setup.learningRate?.kind == "ExponentialDecay")
    }

    @Test(arguments: ["k3/ft_lowlr.keras", "k3/ft_lowlr.h5", "tfk/ft_lowlr.h5", "tfk/ft_highlr.h5", "k3/ft_nan.h5"])
    func constantLearningRateIsTheStoredOne(_ file: String) throws {
        let setup = try #require(TrainingSetup(try Checkpoint.open(Samples.path(file)).optimizer))
        let stored = try #require(Samples.manifest.files[file]?.optimizer?.learningRate?.number)
        #expect(setup.learningRate == .constant(stored))
    }

    @Test func setupWarningsFlagAggressiveFineTunes() throws {
        func setup(_ file: String) throws -> TrainingSetup? { TrainingSetup(try Checkpoint.open(Samples.path(file)).optimizer) }
        let base = try setup("k3/pretrained.keras")
        #expect(TrainingSetup.warnings(base: base, tuned: try setup("k3/ft_lowlr.keras")).isEmpty)
        let high = TrainingSetup.warnings(base: base, tuned: try setup("k3/ft_highlr.keras"))
        #expect(high.contains { if case .rateNotBelowBase = $0 { true } else { false } })
        #expect(high.contains { if case .fromScratchRate = $0 { true } else { false } })
    }

    @Test func overfittingLogIsFound() throws {
        let path = Samples.path("logs/overfit.csv")
        let history = try TrainingHistory(path: path, text: String(contentsOfFile: path, encoding: .utf8))
        let analysis = HistoryAnalysis(history)
        let validation = try #require(history.validationLoss)
        let best = try #require(analysis.bestEpoch)
        #expect(validation[best] == validation.min())
        #expect(analysis.overfittingFrom == best + 1)
        #expect(history.loss.last! < history.loss[best])
        #expect(analysis.nonFiniteEpochs.isEmpty)
    }

    @Test(arguments: ["logs/k3_pretrained.csv", "logs/k3_ft_lowlr.csv", "logs/tfk_pretrained.csv"])
    func steadyRunsAreNotOverfitting(_ file: String) throws {
        let path = Samples.path(file)
        let analysis = HistoryAnalysis(try TrainingHistory(path: path, text: String(contentsOfFile: path, encoding: .utf8)))
        #expect(analysis.overfittingFrom == nil)
        #expect(analysis.nonFiniteEpochs.isEmpty)
    }

    @Test(arguments: ["logs/k3_ft_nan.csv", "logs/tfk_ft_nan.csv"])
    func divergedRunsAreFound(_ file: String) throws {
        let path = Samples.path(file)
        let history = try TrainingHistory(path: path, text: String(contentsOfFile: path, encoding: .utf8))
        let analysis = HistoryAnalysis(history)
        #expect(analysis.nonFiniteEpochs == history.epochs.filter { history.loss[history.epochs.firstIndex(of: $0)!].isNaN })
        #expect(!analysis.nonFiniteEpochs.isEmpty)
        #expect(analysis.findings.contains { $0.contains("diverged") })
    }

    @Test(arguments: [("epoch,loss\n0,1.0\n1,0.5,3\n", 3), ("epoch,loss\n0,abc\n", 2), ("step,value\n0,1\n", 1),
                      ("", 1), ("epoch,loss\n0.5,1\n", 2)])
    func malformedLogsNameTheLine(_ text: String, _ line: Int) {
        do {
            _ = try TrainingHistory(path: "log.csv", text: text)
            Issue.record("accepted a malformed log")
        } catch let error as HistoryError {
            #expect(error.line == line, "\(error)")
            #expect(error.description.hasPrefix("log.csv: line \(line): "))
        } catch {
            Issue.record("\(error)")
        }
    }
}
