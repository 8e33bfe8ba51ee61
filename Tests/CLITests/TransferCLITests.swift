import Foundation
import SampleFixtures
import Testing

/// `calibrate` and `compare --reference` end to end on the real fine-tunes in samples/transfer.
@Suite struct TransferCLITests {
    /// The runs of samples/transfer/manifest.json; throws when it is missing or has none.
    static func manifestRuns() throws -> [[String: Any]] {
        let data = try Data(contentsOf: Samples.directory.appendingPathComponent("transfer/manifest.json"))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(doc["runs"] as? [[String: Any]], "samples/transfer/manifest.json has no runs")
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// calibrate on three labelled runs prints a fragment; compare --policy applies it to the
    /// family's other runs, and the report then says the levels come from the policy.
    @Test func calibrateThenCompareWithTheFragment() throws {
        // The labelled runs: rows base,tuned,forgetting after the header.
        let labelled = try String(contentsOfFile: Samples.path("transfer/mlp_labelled.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        try #require(labelled.count >= 3 && labelled.allSatisfy { $0.count == 3 })
        let result = try CLI.run(["calibrate", "samples/transfer/mlp_labelled.csv"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\(labelled.count) labelled runs"))
        let fragment = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("forgetting: {medium: ") })
        let folder = try Samples.temporaryDirectory()
        let policy = folder.appendingPathComponent("policy.yaml")
        try "version: 1\n\(fragment)\n".write(to: policy, atomically: true, encoding: .utf8)

        let asJSON = try Self.json(try CLI.run(["calibrate", "samples/transfer/mlp_labelled.csv", "--format", "json"]).stdout)
        let cuts = try #require(asJSON["forgetting"] as? [String: Double])
        #expect(asJSON["highCalledLow"] as? Int == 0)

        // What the labelled runs say: the task kept up to the labelled kept run's score, more than
        // 20 points lost from the labelled high run's.
        let labelledRuns = try #require(asJSON["runs"] as? [[String: Any]])
        let keptScore = try #require(labelledRuns.filter { ($0["forgetting"] as? Double ?? 99) < 5 }.compactMap { $0["score"] as? Double }.max())
        let highScore = try #require(labelledRuns.filter { ($0["forgetting"] as? Double ?? 0) > 20 }.compactMap { $0["score"] as? Double }.min())
        let others = try Self.manifestRuns().filter { run in
            run["family"] as? String == "mlp" && !labelled.contains { $0[1] == run["tuned"] as? String }
        }
        #expect(others.count >= 3)
        for run in others {
            let tuned = try #require(run["tuned"] as? String), lost = try #require(run["forgetting"] as? Double)
            let out = try CLI.run(["compare", "samples/transfer/mlp/base.keras", "samples/transfer/\(tuned)", "--policy", policy.path,
                                   "--format", "json"])
            #expect(out.status == 0 || out.status == 1, "\(out.stderr)")
            let f = try #require(try Self.json(out.stdout)["forgetting"] as? [String: Any])
            let applied = try #require(f["cutPoints"] as? [String: Any])
            #expect(applied["source"] as? String == "policy")
            #expect(abs((applied["medium"] as? Double ?? 0) - cuts["medium"]!) <= 1e-5 * cuts["medium"]!)
            #expect(!(f["explanation"] as? String ?? "").contains("uncalibrated"))
            let score = try #require(f["score"] as? Double), risk = f["risk"] as? String
            if score < keptScore { #expect(risk == "low", "\(tuned)") }
            if score >= highScore { #expect(risk == "high", "\(tuned)") }
            // Never call a run that lost more than 20 points low.
            if lost > 20 { #expect(risk != "low", "\(tuned)") }
        }
    }

    @Test func compareWithoutCalibrationSaysTheLevelsAreUncalibrated() throws {
        let out = try CLI.run(["compare", "samples/transfer/mlp/base.keras", "samples/transfer/mlp/adam_lr0.0001_e3_s1.keras"])
        #expect(out.stdout.contains("levels are uncalibrated defaults"))
        #expect(out.stdout.contains("head: none left out"))
    }

    @Test func calibrateRefusesBadInputWithExitTwo() throws {
        let folder = try Samples.temporaryDirectory()
        for (name, text) in [("short.csv", "base,tuned,forgetting\nmlp/base.keras,mlp/base.keras\n"),
                             ("nan.csv", "mlp/base.keras,mlp/base.keras,lots\n"),
                             ("missing.csv", "nothing.keras,mlp/base.keras,3\n"),
                             ("empty.csv", "base,tuned,forgetting\n")] {
            let path = folder.appendingPathComponent(name)
            try text.replacingOccurrences(of: "mlp/", with: Samples.path("transfer/mlp/")).write(to: path, atomically: true, encoding: .utf8)
            let out = try CLI.run(["calibrate", path.path])
            #expect(out.status == 2, "\(name): \(out.stdout)")
            #expect(out.stderr.hasPrefix("weightdrift: error: ") && out.stderr.split(separator: "\n").count == 1, "\(name): \(out.stderr)")
            #expect(out.stderr.contains(name) || out.stderr.contains("nothing.keras"), "\(out.stderr)")
        }
    }

    static func csv(_ runs: [String], lost: [Double], in folder: URL, name: String) throws -> String {
        let path = folder.appendingPathComponent(name)
        let rows = zip(runs, lost).map { "\(Samples.path("transfer/mlp/base.keras")),\(Samples.path("transfer/mlp/\($0).keras")),\($1)\n" }
        try ("base,tuned,forgetting\n" + rows.joined()).write(to: path, atomically: true, encoding: .utf8)
        return path.path
    }

    static func lost(_ run: String) throws -> Double {
        let entry = try #require(manifestRuns().first { $0["family"] as? String == "mlp" && $0["run"] as? String == run }, "\(run)")
        return try #require(entry["forgetting"] as? Double)
    }

    /// Two runs that kept the task and barely moved cannot say where forgetting starts: exit 2 with
    /// one line naming the file. Runs that all forgot still fit, and the output says the fit rests on
    /// the shared shape.
    @Test func calibrateRefusesWithoutEvidenceAndSaysWhenItRestsOnTheShape() throws {
        let folder = try Samples.temporaryDirectory()
        let barely = ["adam_lr1e-05_e3_s1", "adam_lr0.0001_e3_s1"]
        try #require(try barely.allSatisfy { try Self.lost($0) < 5 })
        let refused = try CLI.run(["calibrate", try Self.csv(barely, lost: try barely.map(Self.lost), in: folder, name: "kept.csv")])
        #expect(refused.status == 2, "\(refused.stdout)")
        #expect(refused.stderr.hasPrefix("weightdrift: error: ") && refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("kept.csv") && refused.stderr.contains("cannot fit cut points"), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)

        let forgot = ["rmsprop_lr0.0003_e3_s1", "sgd_lr0.003_e3_s1", "adam_lr0.001_e3_s1"]
        try #require(try forgot.allSatisfy { try Self.lost($0) >= 5 })
        let fit = try CLI.run(["calibrate", try Self.csv(forgot, lost: try forgot.map(Self.lost), in: folder, name: "forgot.csv"),
                               "--format", "json"])
        #expect(fit.status == 0, "\(fit.stderr)")
        let doc = try Self.json(fit.stdout)
        #expect(doc["support"] as? String == "forgotOnly")
        #expect((doc["summary"] as? [String] ?? []).contains { $0.hasPrefix("rests on shared assumptions") })
        // Two medium runs and a high one bracket the high cut: it comes from the runs, and the
        // reported ratio is the fitted cut points' own.
        #expect(doc["highSupport"] as? String == "bracketed")
        #expect((doc["summary"] as? [String] ?? []).contains { $0.hasPrefix("the runs bracket the high cut") })
        let cuts = try #require(doc["forgetting"] as? [String: Double])
        let ratio = try #require(doc["ratio"] as? Double)
        #expect(abs(ratio - cuts["high"]! / cuts["medium"]!) <= 1e-12 * ratio)
        #expect((doc["fragment"] as? String ?? "").hasPrefix("forgetting: {medium: "))
    }

    /// An approved fine-tune as the yardstick: itself passes at ratio 1, a run that moved much
    /// further fails with a reference reason in every format's gate.
    @Test func referenceRunGatesByRatio() throws {
        let base = "samples/transfer/mlp/base.keras"
        let approved = "samples/transfer/mlp/adam_lr0.0001_e3_s1.keras"
        let same = try CLI.run(["compare", base, approved, "--reference", approved, "--format", "json"])
        #expect(same.status == 0, "\(same.stdout)")
        let reference = try #require(try Self.json(same.stdout)["reference"] as? [String: Any])
        #expect(reference["overallRatio"] as? Double == 1)

        let far = try CLI.run(["compare", base, "samples/transfer/mlp/adam_lr0.01_e3_s1.keras", "--reference", approved, "--format", "json"])
        #expect(far.status == 1)
        let doc = try Self.json(far.stdout)
        let gate = try #require((doc["summary"] as? [String: Any])?["gate"] as? [[String: Any]])
        let reasons = gate.filter { $0["kind"] as? String == "reference" }
        #expect(!reasons.isEmpty)
        #expect(reasons.contains { $0["layer"] is NSNull && ($0["ratio"] as? Double ?? 0) > 1.5 })
        let table = try CLI.run(["compare", base, "samples/transfer/mlp/adam_lr0.01_e3_s1.keras", "--reference", approved])
        #expect(table.stdout.contains("as far as the approved reference run"))
        for format in ["markdown", "github", "junit", "html"] {
            let out = try CLI.run(["compare", base, "samples/transfer/mlp/adam_lr0.01_e3_s1.keras", "--reference", approved, "--format", format])
            #expect(out.status == 1)
            #expect(out.stdout.contains("as far as the approved reference run"), "\(format)")
        }
        let junit = try CLI.run(["compare", base, "samples/transfer/mlp/adam_lr0.01_e3_s1.keras", "--reference", approved, "--format", "junit"])
        #expect(junit.stdout.contains("name=\"reference\" time=\"0.000\">\n      <failure message=\"the backbone moved"))
        // A generous ratio lets the same run through the reference gate (its layers may still fail on thresholds).
        let loose = try Self.json(try CLI.run(["compare", base, "samples/transfer/mlp/adam_lr0.01_e3_s1.keras", "--reference", approved,
                                               "--max-ratio", "1000", "--format", "json"]).stdout)
        let looseGate = (loose["summary"] as? [String: Any])?["gate"] as? [[String: Any]] ?? []
        #expect(!looseGate.contains { $0["kind"] as? String == "reference" })
        let usage = try CLI.run(["compare", base, approved, "--max-ratio", "2"])
        #expect(usage.status == 2)
        let tooSmall = try CLI.run(["compare", base, approved, "--reference", approved, "--max-ratio", "0.5"])
        #expect(tooSmall.status == 2)
    }
}
