public import Checkpoint

/// How two checkpoints' layers are paired.
public enum MatchMode: String, Sendable, CaseIterable {
    /// Names first, then normalised names, then model order checked by shape.
    case auto
    /// Exact layer names only.
    case name
    /// Model order checked by shape only (names ignored).
    case order
}

/// The rule that paired a layer, reported for every pair.
public enum MatchRule: String, Sendable {
    /// The layer names are equal.
    case name
    /// Equal after dropping Keras's per-class counter suffixes (`dense_3` → `dense`) in every path
    /// component, paired in model order within each name.
    case normalizedName = "normalized-name"
    /// Same position among the unpaired layers, with every weight shape equal.
    case order
}

/// One row of the pairing: a layer in both files, or in one only.
public struct LayerMatch: Sendable {
    public let base: Layer?
    public let tuned: Layer?
    /// How the pair was made; nil for a layer in one file only.
    public let rule: MatchRule?
    /// Weight pairs (for a paired layer), or the layer's weights alone.
    public let weights: [WeightMatch]
}

public struct WeightMatch: Sendable {
    public let base: Weight?
    public let tuned: Weight?
    /// Both present and the same shape: the values are compared.
    public var comparable: Bool {
        guard let base, let tuned else { return false }
        return base.shape == tuned.shape
    }
}

public enum Matcher {
    /// Pairs the layers of two checkpoints. The result holds every layer of both files exactly
    /// once, in the tuned checkpoint's model order with base-only layers placed after the layer
    /// that precedes them in the base.
    public static func match(base: [Layer], tuned: [Layer], mode: MatchMode) -> [LayerMatch] {
        var baseToTuned: [Int: (Int, MatchRule)] = [:]
        var tunedTaken = Set<Int>()

        func pair(_ b: Int, _ t: Int, _ rule: MatchRule) {
            baseToTuned[b] = (t, rule)
            tunedTaken.insert(t)
        }
        func unpairedBase() -> [Int] { base.indices.filter { baseToTuned[$0] == nil } }
        func unpairedTuned() -> [Int] { tuned.indices.filter { !tunedTaken.contains($0) } }

        if mode == .auto || mode == .name {
            // Exact names; a name pair whose shapes disagree waits, in case a later rule finds
            // the real partner (a rebuilt model's `dense_1` may be the base's `dense`).
            let tunedByName = Dictionary(tuned.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
            for (b, layer) in base.enumerated() {
                if let t = tunedByName[layer.name], !tunedTaken.contains(t),
                   mode == .name || sameShapes(layer, tuned[t]) {
                    pair(b, t, .name)
                }
            }
        }
        if mode == .auto {
            var tunedGroups: [String: [Int]] = [:]
            for t in unpairedTuned() { tunedGroups[normalized(tuned[t].name), default: []].append(t) }
            var baseGroups: [String: [Int]] = [:]
            for b in unpairedBase() { baseGroups[normalized(base[b].name), default: []].append(b) }
            for (key, baseIndices) in baseGroups {
                let tunedIndices = tunedGroups[key] ?? []
                for (b, t) in zip(baseIndices, tunedIndices) where sameShapes(base[b], tuned[t]) {
                    pair(b, t, .normalizedName)
                }
            }
        }
        if mode == .auto || mode == .order {
            // Longest common subsequence of the remaining layers' shape signatures, in model order.
            let bs = unpairedBase(), ts = unpairedTuned()
            for (b, t) in longestCommonSubsequence(bs, ts, equal: { sameShapes(base[$0], tuned[$1]) }) {
                pair(b, t, .order)
            }
        }
        if mode == .auto {
            // Same name, different shapes, and nothing better found: one layer, reshaped.
            let tunedByName = Dictionary(unpairedTuned().map { (tuned[$0].name, $0) }, uniquingKeysWith: { a, _ in a })
            for b in unpairedBase() {
                if let t = tunedByName[base[b].name], !tunedTaken.contains(t) { pair(b, t, .name) }
            }
        }

        // Output in tuned order; a base-only layer follows the row of its nearest paired predecessor.
        var rows: [LayerMatch] = []
        var tunedToBase: [Int: Int] = [:]
        for (b, (t, _)) in baseToTuned { tunedToBase[t] = b }
        var pendingBase = unpairedBase()
        func flushBase(upTo limit: Int?) {
            while let b = pendingBase.first, limit.map({ b < $0 }) ?? true {
                rows.append(LayerMatch(base: base[b], tuned: nil, rule: nil,
                                       weights: base[b].weights.map { WeightMatch(base: $0, tuned: nil) }))
                pendingBase.removeFirst()
            }
        }
        for (t, layer) in tuned.enumerated() {
            if let b = tunedToBase[t] {
                flushBase(upTo: b)
                rows.append(LayerMatch(base: base[b], tuned: layer, rule: baseToTuned[b]!.1,
                                       weights: matchWeights(base[b].weights, layer.weights)))
            } else {
                rows.append(LayerMatch(base: nil, tuned: layer, rule: nil,
                                       weights: layer.weights.map { WeightMatch(base: nil, tuned: $0) }))
            }
        }
        flushBase(upTo: nil)
        return rows
    }

    /// `sequential_1/dense_3` → `sequential/dense`.
    static func normalized(_ name: String) -> String {
        name.split(separator: "/", omittingEmptySubsequences: false)
            .map { component -> String in
                let (base, index) = splitCounter(String(component))
                return index == nil ? String(component) : base
            }
            .joined(separator: "/")
    }

    private static func splitCounter(_ name: String) -> (String, Int?) {
        guard let underscore = name.lastIndex(of: "_"), underscore != name.startIndex,
              let index = Int(name[name.index(after: underscore)...]) else { return (name, nil) }
        return (String(name[..<underscore]), index)
    }

    static func sameShapes(_ a: Layer, _ b: Layer) -> Bool {
        a.weights.map(\.shape) == b.weights.map(\.shape)
    }

    /// Weights of a paired layer: by name where both layers have the same set of distinct names,
    /// otherwise by position. Extra weights on either side stay single.
    static func matchWeights(_ base: [Weight], _ tuned: [Weight]) -> [WeightMatch] {
        let baseNames = base.map(\.name), tunedNames = tuned.map(\.name)
        if Set(baseNames).count == base.count, Set(baseNames) == Set(tunedNames), baseNames.count == tunedNames.count {
            let byName = Dictionary(uniqueKeysWithValues: base.map { ($0.name, $0) })
            return tuned.map { WeightMatch(base: byName[$0.name], tuned: $0) }
        }
        var result: [WeightMatch] = []
        for index in 0..<max(base.count, tuned.count) {
            result.append(WeightMatch(base: index < base.count ? base[index] : nil,
                                      tuned: index < tuned.count ? tuned[index] : nil))
        }
        return result
    }

    private static func longestCommonSubsequence(_ a: [Int], _ b: [Int], equal: (Int, Int) -> Bool) -> [(Int, Int)] {
        if a.isEmpty || b.isEmpty { return [] }
        let n = a.count, m = b.count
        if n * m > 4_000_000 {
            // Too many unpaired layers for the quadratic table: pair greedily in order.
            var pairs: [(Int, Int)] = []
            var j = 0
            for x in a {
                guard let hit = b[j...].firstIndex(where: { equal(x, $0) }) else { continue }
                pairs.append((x, b[hit]))
                j = hit + 1
                if j == m { break }
            }
            return pairs
        }
        var table = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                table[i][j] = equal(a[i], b[j]) ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var pairs: [(Int, Int)] = []
        var i = 0, j = 0
        while i < n, j < m {
            if equal(a[i], b[j]) && table[i][j] == table[i + 1][j + 1] + 1 {
                pairs.append((a[i], b[j]))
                i += 1
                j += 1
            } else if table[i + 1][j] >= table[i][j + 1] {
                i += 1
            } else {
                j += 1
            }
        }
        return pairs
    }
}
