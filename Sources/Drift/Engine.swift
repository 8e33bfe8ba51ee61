public import Checkpoint
import Foundation

/// Streams every weight pair once, in bounded slices, and judges each layer.
public enum DriftEngine {
    /// Elements per slice read from each file: 64 Ki values = 512 KiB per side as Double.
    public static let sliceElements = 1 << 16
    /// A compared pair larger than this is streamed in parts of about this many values, each a
    /// task of its own, so a model with one huge embedding still keeps every core busy.
    static let partElements = 1 << 22

    /// `progress` is called from worker threads with (values streamed, values in all) after each weight.
    public static func compare(base: Checkpoint, tuned: Checkpoint, policy: Policy, mode: MatchMode = .auto,
                               progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> DriftReport {
        try policy.validate()
        let alignment = try Matcher.align(base: base, tuned: tuned, mode: mode, renames: policy.renames)
        let matches = alignment.rows
        try policy.checkEveryPatternMatches(base: base.layers, tuned: tuned.layers)
        guard matches.contains(where: { $0.weights.contains(where: \.comparable) }) else {
            throw DriftError.nothingCompared(base: DriftError.Side(base), tuned: DriftError.Side(tuned))
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let (passes, durations) = try streamAll(matches, base: base, tuned: tuned, progress: progress)
        let layers = matches.enumerated().map { index, match in
            judge(match, passes: passes[index], policy: policy, seconds: durations[index])
        }
        var notes: [Note] = []
        for checkpoint in [base, tuned] where checkpoint.layerOrder != "model" {
            notes.append(.layerOrderNotStored(path: checkpoint.path))
        }
        if mode == .order, base.layerOrder != "model" || tuned.layerOrder != "model" {
            notes.append(.orderMatchOnPathOrder)
        }
        if alignment.orderedBy == .base { notes.append(.depthOrderFrom(path: base.path)) }
        notes += alignment.notes
        let identical = layers.allSatisfy { $0.status == .frozen || ($0.status == .ignored && $0.sums?.frozen == true) }
        if identical { notes.append(.identicalWeights) }
        let baseSetup = TrainingSetup(base.optimizer), tunedSetup = TrainingSetup(tuned.optimizer)
        let diagnosis = NonFiniteDiagnosis.find(layers.filter { $0.tunedName != nil }.map { ($0.name, $0.nanInTuned, $0.infInTuned) },
                                                side: .tuned, setup: tunedSetup)
        let baseDiagnosis = NonFiniteDiagnosis.find(
            layers.filter { $0.baseName != nil }.map { ($0.baseName ?? $0.name, $0.sums?.baseNaN ?? 0, $0.sums?.baseInf ?? 0) },
            side: .base, setup: baseSetup)
        let forgetting = ForgettingAssessment(layers: layers, policy: policy)
        let coverage = coverage(layers, base: base)
        return DriftReport(base: InputSummary(base, sha256: nil), tuned: InputSummary(tuned, sha256: nil),
                           policy: policy, matchMode: mode, layers: layers,
                           summary: summarize(layers, policy: policy, forgetting: forgetting, coverage: coverage),
                           notes: notes, baseSetup: baseSetup, tunedSetup: tunedSetup,
                           // Identical weights were not trained: their setups say nothing about a fine-tune.
                           warnings: identical ? [] : TrainingSetup.warnings(base: baseSetup, tuned: tunedSetup),
                           diagnosis: diagnosis, baseDiagnosis: baseDiagnosis, forgetting: forgetting,
                           seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }

    /// The share of the base compared: weights paired with the same shape, streamed and gated.
    static func coverage(_ layers: [LayerResult], base: Checkpoint) -> Coverage {
        var parameters = 0, layerCount = 0
        for layer in layers where layer.status != .ignored {
            let compared = layer.weights.filter { $0.sums != nil && $0.status != .ignored }.reduce(0) { $0 + ($1.base?.count ?? 0) }
            if layer.weights.contains(where: { $0.sums != nil && $0.status != .ignored }) { layerCount += 1 }
            parameters += compared
        }
        return Coverage(baseParameters: base.totalParameters, comparedParameters: parameters,
                        baseLayers: base.layers.count, comparedLayers: layerCount)
    }

    struct Buffers {
        var base: [Double] = []
        var tuned: [Double] = []
        var baseFloats: [Float] = []
        var tunedFloats: [Float] = []
        var baseHalves: [UInt16] = []
        var tunedHalves: [UInt16] = []
        var baseBits: [UInt64] = []
        var tunedBits: [UInt64] = []
    }

    /// The outcome of streaming one weight of a match: drift sums for a compared pair, or the
    /// tuned values' health for a weight in one file only (nil for a base-only weight).
    enum Pass: Sendable {
        case pair(DriftSums)
        case single(ValueStats?)
    }

    /// Streams every weight of every match once, on as many threads as there are cores: libhdf5
    /// is serialised, but contiguous datasets are read with pread outside it, and the sums run in
    /// parallel. Work is taken in file order (largest first when some weight is chunked), a large
    /// pair in parts (`partElements`); results are by position and parts merged in order, so
    /// output is deterministic.
    static func streamAll(_ matches: [LayerMatch], base: Checkpoint, tuned: Checkpoint,
                          progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> ([[Pass]], [Double]) {
        struct Task: Sendable {
            let layer: Int, weight: Int
            let match: WeightMatch
            let part: Part
            var size: Int { (match.tuned?.count ?? match.base?.count ?? 0) / part.of }
        }
        var tasks: [Task] = []
        for (layer, match) in matches.enumerated() {
            for (weight, weightMatch) in match.weights.enumerated() {
                let count = weightMatch.comparable ? weightMatch.base?.count ?? 0 : 0
                let parts = max(1, (count + partElements / 2) / partElements)
                for index in 0..<parts {
                    tasks.append(Task(layer: layer, weight: weight, match: weightMatch, part: Part(index: index, of: parts)))
                }
            }
        }
        // In file order where every base weight is one run of bytes (safetensors; HDF5 datasets
        // stored contiguous, the Keras default), so the workers read both files front to back,
        // which from a cold page cache keeps the disk streaming (a `.keras` pair from a cold cache:
        // 0.49–0.56 s in file order, 0.60–0.73 s largest first, six runs each; the HDF5 files'
        // prefetch threads, HDF5.File, read ahead meanwhile). Otherwise (chunked datasets) largest
        // first. (Large pairs are in parts, so the last task is small either way.)
        let ranges = tasks.map { $0.match.comparable ? $0.match.base?.tensor.storedAt : nil }
        if !tasks.isEmpty, ranges.allSatisfy({ $0 != nil }) {
            let order = tasks.indices.sorted {
                (ranges[$0]!.path, ranges[$0]!.offset, tasks[$0].part.index) < (ranges[$1]!.path, ranges[$1]!.offset, tasks[$1].part.index)
            }
            tasks = order.map { tasks[$0] }
        } else {
            tasks.sort { ($0.size, $1.layer, $1.weight, $1.part.index) > ($1.size, $0.layer, $0.weight, $0.part.index) }
        }
        let work = tasks
        let results = Results(count: tasks.count)
        let totalElements = tasks.reduce(0) { $0 + $1.size }
        // A second thread pays only with values enough to keep it busy: on a model of many small
        // weights the threads would mostly take turns at libhdf5's lock to open datasets (two
        // 1,600-layer files of 243 K values: 0.74–0.84 s on one thread with a dozen context
        // switches, 0.91–1.20 s on two with 18–21 thousand).
        let enough = max(1, totalElements / partElements)
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, tasks.count, enough, 8))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            var buffers = Buffers()
            while let index = results.claim() {
                let task = work[index]
                let taskStarted = DispatchTime.now().uptimeNanoseconds
                defer { results.addTime(index, Double(DispatchTime.now().uptimeNanoseconds - taskStarted) / 1e9) }
                do {
                    let pass: Pass
                    if task.match.comparable, let b = task.match.base, let t = task.match.tuned {
                        pass = .pair(try sums((b, t), base: base, tuned: tuned, part: task.part, buffers: &buffers))
                    } else if let t = task.match.tuned {
                        pass = .single(try stats(t, in: tuned, buffer: &buffers.tuned))
                    } else {
                        pass = .single(nil)
                    }
                    results.store(index, .success(pass))
                } catch {
                    results.store(index, .failure(error))
                }
                if let progress { progress(results.addDone(task.size), totalElements) }
            }
        }
        var passes = matches.map { [Pass](repeating: .single(nil), count: $0.weights.count) }
        // The first failure in model order is the one reported, whichever thread met it first.
        var failure: (position: (Int, Int), error: any Error)?
        let inOrder = tasks.indices.sorted {
            (tasks[$0].layer, tasks[$0].weight, tasks[$0].part.index) < (tasks[$1].layer, tasks[$1].weight, tasks[$1].part.index)
        }
        for index in inOrder {
            let task = tasks[index]
            switch results.outcome(index) {
            case .success(.pair(let sums)) where task.part.index > 0:
                if case .pair(var sum) = passes[task.layer][task.weight] {
                    sum.merge(sums)
                    passes[task.layer][task.weight] = .pair(sum)
                }
            case .success(let pass): passes[task.layer][task.weight] = pass
            case .failure(let error):
                if failure.map({ (task.layer, task.weight) < $0.position }) ?? true { failure = ((task.layer, task.weight), error) }
            }
        }
        if let failure { throw failure.error }
        var durations = [Double](repeating: 0, count: matches.count)
        for (index, task) in tasks.enumerated() { durations[task.layer] += results.time(index) }
        return (passes, durations)
    }

    /// Outcomes filled in by worker threads, each slot written once.
    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private var outcomes: [Result<Pass, any Error>?]

        private var times: [Double]

        init(count: Int) {
            outcomes = Array(repeating: nil, count: count)
            times = Array(repeating: 0, count: count)
        }

        func addTime(_ index: Int, _ seconds: Double) {
            lock.lock()
            times[index] += seconds
            lock.unlock()
        }

        func time(_ index: Int) -> Double {
            lock.lock()
            defer { lock.unlock() }
            return times[index]
        }

        func claim() -> Int? {
            lock.lock()
            defer { lock.unlock() }
            guard next < outcomes.count else { return nil }
            next += 1
            return next - 1
        }

        private var doneElements = 0

        /// Adds to the values streamed so far and returns the new total.
        func addDone(_ elements: Int) -> Int {
            lock.lock()
            defer { lock.unlock() }
            doneElements += elements
            return doneElements
        }

        func store(_ index: Int, _ outcome: Result<Pass, any Error>) {
            lock.lock()
            outcomes[index] = outcome
            lock.unlock()
        }

        func outcome(_ index: Int) -> Result<Pass, any Error> {
            lock.lock()
            defer { lock.unlock() }
            return outcomes[index]!
        }
    }

    /// Part `index` of `of` equal runs of a pair's slices.
    struct Part: Sendable {
        let index: Int, of: Int
    }

    /// One fused pass over a weight pair, or over one part of its slices.
    static func sums(_ pair: (Weight, Weight), base: Checkpoint, tuned: Checkpoint, part: Part,
                     buffers: inout Buffers) throws -> DriftSums {
        var baseReader = try base.reader(for: pair.0, sliceElements: sliceElements)
        var tunedReader = try tuned.reader(for: pair.1, sliceElements: sliceElements)
        // Same shape, same slices: both readers skip to the part's first slice.
        let slices = baseReader.sliceCount, first = slices * part.index / part.of
        baseReader.skip(slices: first)
        tunedReader.skip(slices: first)
        var left = slices * (part.index + 1) / part.of - first
        func more() -> Bool {
            left -= 1
            return left >= 0
        }
        var sums = DriftSums()
        func short() -> CheckpointError {
            CheckpointError(.corrupt, file: tuned.path, object: pair.1.path, message: "fewer values than its shape says")
        }
        // Two float16 (or two bfloat16) weights, with the AVX2 or AVX-512 kernel: read as stored and widened
        // in registers (the same sums as below, to the last bit).
        if VectorKernel.chosen.widensInRegisters, baseReader.readsAsHalves, pair.0.dtype == pair.1.dtype {
            let bfloat16 = pair.0.dtype == .bfloat16
            while more(), try baseReader.next(into: &buffers.baseHalves) {
                guard try tunedReader.next(into: &buffers.tunedHalves), buffers.tunedHalves.count == buffers.baseHalves.count else {
                    throw short()
                }
                sums.accumulate(halves: buffers.baseHalves, tuned: buffers.tunedHalves, bfloat16: bfloat16)
            }
            return sums
        }
        // float32, float16 and bfloat16 (widened exactly) share the float32 kernel. A changed bit
        // is then a changed value: the widening is one-to-one (NaN payloads aside).
        if baseReader.readsAsFloat && tunedReader.readsAsFloat {
            while more(), try baseReader.next(into: &buffers.baseFloats) {
                guard try tunedReader.next(into: &buffers.tunedFloats), buffers.tunedFloats.count == buffers.baseFloats.count else {
                    throw short()
                }
                sums.accumulate(base: buffers.baseFloats, tuned: buffers.tunedFloats)
            }
            return sums
        }
        // 64-bit integers above 2^53 do not survive the trip to Double: their changes are counted
        // from the stored bits.
        if pair.0.dtype.isWideInteger && pair.1.dtype.isWideInteger {
            // Each slice is read once, as bits, and widened in Swift.
            while more(), try baseReader.next(into: &buffers.base, bits: &buffers.baseBits) {
                guard try tunedReader.next(into: &buffers.tuned, bits: &buffers.tunedBits),
                      buffers.tuned.count == buffers.base.count else { throw short() }
                sums.accumulate(base: buffers.base, tuned: buffers.tuned)
                sums.recountChanged(lastSlice: (buffers.base, buffers.tuned), bits: (buffers.baseBits, buffers.tunedBits))
            }
            return sums
        }
        while more(), try baseReader.next(into: &buffers.base) {
            guard try tunedReader.next(into: &buffers.tuned), buffers.tuned.count == buffers.base.count else { throw short() }
            sums.accumulate(base: buffers.base, tuned: buffers.tuned)
        }
        return sums
    }

    /// One pass over a single weight.
    public static func stats(_ weight: Weight, in checkpoint: Checkpoint, buffer: inout [Double]) throws -> ValueStats {
        var reader = try checkpoint.reader(for: weight, sliceElements: sliceElements)
        var stats = ValueStats()
        while try reader.next(into: &buffer) { stats.accumulate(buffer) }
        return stats
    }

    static func judge(_ match: LayerMatch, passes: [Pass], policy: Policy, seconds: Double = 0) -> LayerResult {
        let name = match.tuned?.name ?? match.base?.name ?? "?"
        let layerRule = policy.rule(forLayer: name) ?? match.base.flatMap { policy.rule(forLayer: $0.name) }
        var weightResults: [WeightResult] = []
        var layerSums: DriftSums?
        var layerStats: ValueStats?
        var structural: Status?
        var escalations: [Finding] = []

        for (weightMatch, pass) in zip(match.weights, passes) {
            let weightName = weightMatch.tuned?.name ?? weightMatch.base?.name ?? "?"
            if case .pair(let pairSums) = pass, let b = weightMatch.base, let t = weightMatch.tuned {
                layerSums = merged(layerSums, pairSums)
                var status: Status = pairSums.frozen ? .frozen : .ok
                var reasons: [Finding] = []
                if let rule = policy.rule(forWeight: weightName, inLayer: name) {
                    (status, reasons) = verdict(pairSums, rule: rule, policy: policy)
                    if status == .warn || status == .fail {
                        escalations += reasons.map { .weight(weightName, $0) }
                    }
                }
                weightResults.append(WeightResult(name: weightName, base: b.detached, tuned: t.detached, status: status, sums: pairSums,
                                                  tunedStats: nil, reasons: reasons))
            } else {
                // In one file only, or reshaped: nothing to compare, but the tuned values still
                // get a health check (a NaN in a new head fails like any other).
                let status: Status = weightMatch.base == nil ? .new : weightMatch.tuned == nil ? .removed : .reshaped
                structural = structural == nil || structural == status ? status : .reshaped
                var stats: ValueStats?
                if case .single(let one?) = pass {
                    stats = one
                    layerStats = layerStats.map { var s = $0; s.merge(one); return s } ?? one
                }
                weightResults.append(WeightResult(name: weightName, base: weightMatch.base?.detached, tuned: weightMatch.tuned?.detached,
                                                  status: status, sums: nil, tunedStats: stats, reasons: []))
            }
        }

        let parameterCount = (match.tuned ?? match.base)?.parameterCount ?? 0
        var status: Status
        var reasons: [Finding] = []
        var failsGate = false
        let tunedNaN = (layerSums?.tunedNaN ?? 0) + (layerStats?.nanCount ?? 0)
        let tunedInf = (layerSums?.tunedInf ?? 0) + (layerStats?.infCount ?? 0)
        let baseNaN = layerSums?.baseNaN ?? 0, baseInf = layerSums?.baseInf ?? 0

        if case .ignore = layerRule?.action {
            status = .ignored
            reasons = [.ignoredByRule(layerRule!.pattern)]
        } else if match.base == nil || match.tuned == nil || structural != nil {
            status = match.base == nil ? .new : match.tuned == nil ? .removed : .reshaped
            let allowed = status == .removed ? (layerRule?.allowRemoved ?? policy.allowRemoved)
                : (layerRule?.allowNew ?? policy.allowNew)
            if !allowed {
                failsGate = true
                reasons.append(.notAllowed(status))
            }
            if status == .reshaped, let sums = layerSums {
                // Weights that kept their shape are still judged.
                let (own, ownReasons) = verdict(sums, rule: layerRule, policy: policy)
                if own == .fail || own == .warn { escalations += ownReasons }
            }
        } else if let sums = layerSums {
            (status, reasons) = verdict(sums, rule: layerRule, policy: policy)
            failsGate = status == .fail
        } else {
            status = .ok
        }

        if status != .ignored {
            if policy.failOnNonFinite {
                var nonFinite: [Finding] = []
                if tunedNaN + tunedInf > 0 { nonFinite.append(.nonFinite(side: .tuned, nan: tunedNaN, inf: tunedInf)) }
                if baseNaN + baseInf > 0 { nonFinite.append(.nonFinite(side: .base, nan: baseNaN, inf: baseInf)) }
                if !nonFinite.isEmpty {
                    reasons.insert(contentsOf: nonFinite, at: 0)
                    if status != .new, status != .removed, status != .reshaped { status = .fail }
                    failsGate = true
                }
            }
            for finding in escalations {
                reasons.append(finding)
                if finding.level == .fail { failsGate = true }
                if status == .ok || status == .frozen || (status == .warn && finding.level == .fail) {
                    status = finding.level
                }
            }
        }

        return LayerResult(name: name, baseName: match.base?.name, tunedName: match.tuned?.name,
                           className: match.tuned?.className ?? match.base?.className, matchedBy: match.rule,
                           status: status, failsGate: failsGate, reasons: reasons, sums: layerSums,
                           tunedStats: layerStats, weights: weightResults, parameterCount: parameterCount, seconds: seconds)
    }

    private static func merged(_ a: DriftSums?, _ b: DriftSums) -> DriftSums {
        guard var a else { return b }
        a.merge(b)
        return a
    }

    /// ok / warn / fail / frozen for compared values under a rule (or the defaults).
    static func verdict(_ sums: DriftSums, rule: PolicyRule?, policy: Policy) -> (Status, [Finding]) {
        if case .frozen = rule?.action {
            if sums.frozen { return (.frozen, []) }
            return (.fail, [.frozenChanged(rule: rule!.pattern, changedFraction: sums.changedFraction)])
        }
        if sums.frozen { return (.frozen, []) }
        // Nothing finite in both files: no figure is defined, so the layer cannot pass.
        guard let metrics = sums.metrics else { return (.fail, [.nothingFinite]) }
        var thresholds = policy.thresholds
        if case .thresholds(let own) = rule?.action { thresholds = own }
        func check(_ limits: Limits, _ level: Status) -> [Finding] {
            Metric.gateable.compactMap { metric in
                guard let limit = limits[metric], let value = metric.value(sums), metric.exceeds(value, limit) else { return nil }
                // Over a base of about zero the relative change is the RMS of the change: say so.
                let shown = metric == .relativeChange && metrics.relativeTo == .rms ? Metric.relativeChangeOfZeroBase : metric
                return .threshold(metric: shown, value: value, limit: limit, level: level)
            }
        }
        let failing = check(thresholds.fail, .fail)
        if !failing.isEmpty { return (.fail, failing) }
        let warning = check(thresholds.warn, .warn)
        if !warning.isEmpty { return (.warn, warning) }
        return (.ok, [])
    }

    static func summarize(_ layers: [LayerResult], policy: Policy, forgetting: ForgettingAssessment, coverage: Coverage) -> Summary {
        var counts: [Status: Int] = [:]
        for layer in layers { counts[layer.status, default: 0] += 1 }
        let failing = layers.filter { $0.failsGate || (policy.failOnWarn && $0.status == .warn) }
        func severity(_ layer: LayerResult) -> Int {
            switch layer.status {
            case .fail: 3
            case .warn: 2
            case .ok: 1
            default: layer.failsGate ? 3 : 0
            }
        }
        func change(_ layer: LayerResult) -> Double { layer.metrics?.relativeChange ?? (layer.failsGate ? .infinity : 0) }
        let worst = layers.filter { severity($0) > 0 }.max { a, b in (severity(a), change(a)) < (severity(b), change(b)) }
        var reasons: [GateReason] = failing.map { .layer(name: $0.name, status: $0.status, findings: $0.reasons) }
        if let fraction = coverage.fraction, fraction < policy.minCoverage {
            reasons.append(.coverage(coverage, minimum: policy.minCoverage))
        }
        if let level = policy.failOnRisk, forgetting.risk != .unknown, forgetting.risk >= level {
            reasons.append(.forgettingRisk(forgetting.risk, failsFrom: level))
        }
        return Summary(counts: counts, worstLayer: worst?.name, decision: GateDecision(reasons: reasons), coverage: coverage)
    }
}

/// Comparisons that cannot be judged at all: exit 2, not a verdict.
public enum DriftError: Error, Sendable, CustomStringConvertible {
    public struct Side: Sendable {
        public let path: String
        public let layers: Int
        public let parameters: Int

        init(_ checkpoint: Checkpoint) {
            path = checkpoint.path
            layers = checkpoint.layers.count
            parameters = checkpoint.totalParameters
        }
    }

    /// Not one weight could be paired with a same-shaped weight in the other file.
    case nothingCompared(base: Side, tuned: Side)

    public var description: String {
        switch self {
        case .nothingCompared(let base, let tuned):
            if base.parameters == 0 && tuned.parameters == 0 {
                return "\(base.path), \(tuned.path): neither file holds any weights; there is nothing to compare"
            }
            return "\(base.path) (\(base.layers) layers, \(base.parameters) parameters) and \(tuned.path) (\(tuned.layers) layers, "
                + "\(tuned.parameters) parameters): no layer could be paired with a same-shaped layer; "
                + "the files look like different models"
        }
    }
}

/// Figures as users read them: 4 significant digits, scientific when tiny or huge.
public func format(_ value: Double) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
    if value == 0 { return "0" }
    let magnitude = abs(value)
    if magnitude >= 1e-3 && magnitude < 1e6 {
        var text = String(format: "%.4g", value)
        if text.contains("e") { text = String(format: "%.4f", value) }
        return text
    }
    return String(format: "%.3e", value)
}

public func percent(_ fraction: Double) -> String {
    guard fraction.isFinite else { return "nan" }
    if fraction > 0 && fraction < 0.001 { return "<0.1%" }
    return String(format: "%.1f%%", fraction * 100)
}
