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
    /// The names are equal after the policy's `rename` rules (or `--rename`).
    case renamed
    /// Paired by model structure; the names differ by the counter offset found between the files
    /// (Keras 2.0 counted layers from `_1`, tf.keras 2.2+ from no suffix).
    case counterOffset = "counter-offset"
}

/// The pairing of two checkpoints, with the order its rows follow and what was found on the way.
public struct Alignment: Sendable {
    public let rows: [LayerMatch]
    /// Whose model order the rows follow: the tuned file's unless only the base stores one.
    public let orderedBy: Side
    /// Era differences and the rule chosen (structural alignment, counter offset).
    public let notes: [Note]
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
    /// Pairs the layers of two checkpoints (see `match`), in the model order of whichever file
    /// stores one, and with `auto` checks the name pairing against the model structure: where
    /// exact names join layers at different depths (two Keras eras count layers differently) and
    /// a structural alignment (class, shapes, model order) pairs more of the base, or as much
    /// without crossing, the structural one is used and reported.
    public static func align(base: Checkpoint, tuned: Checkpoint, mode: MatchMode, renames: [RenameRule] = []) throws -> Alignment {
        let orderedBy: Side = tuned.layerOrder != "model" && base.layerOrder == "model" ? .base : .tuned
        let bothOrdered = base.layerOrder == "model" && tuned.layerOrder == "model"
        let renamed = (base: try Renaming.apply(renames.filter { $0.side == .base }, to: base.layers, side: .base, file: base.path),
                       tuned: try Renaming.apply(renames.filter { $0.side == .tuned }, to: tuned.layers, side: .tuned, file: tuned.path))
        // Pairs made through a rename are fixed first; the other layers are matched as usual.
        var pairs = renamedPairs(base: base.layers, tuned: tuned.layers, renamed: renamed)
        let renamedCount = pairs.count
        let taken = Set(pairs.values.map(\.0))
        let restBase = base.layers.indices.filter { pairs[$0] == nil }, restTuned = tuned.layers.indices.filter { !taken.contains($0) }
        var (rest, notes) = pairLayers(base: restBase.map { base.layers[$0] }, tuned: restTuned.map { tuned.layers[$0] },
                                       mode: mode, bothOrdered: bothOrdered)
        for (b, (t, rule)) in rest { pairs[restBase[b]] = (restTuned[t], rule) }
        if renamedCount > 0 { notes.insert(.renamedPairs(renamedCount), at: 0) }
        for (side, layers, names, unpaired) in [(Side.base, base.layers, renamed.base, restBase), (.tuned, tuned.layers, renamed.tuned, restTuned)] {
            let lost = unpaired.filter { names[$0] != nil && names[$0]!.name != layers[$0].name }
            if let first = lost.first {
                notes.append(.renamedWithoutPartner(side: side, count: lost.count, from: layers[first].name, to: names[first]!.name))
            }
        }
        let rows = orderedBy == .tuned ? rowsInOrder(pairs, base: base.layers, tuned: tuned.layers, renamed: renamed)
            : rowsInOrder(flip(pairs), base: tuned.layers, tuned: base.layers, renamed: (renamed.tuned, renamed.base), flipped: true)
        return Alignment(rows: rows, orderedBy: orderedBy, notes: notes)
    }

    /// Base layer → tuned layer where the two carry the same name after the rename rules and
    /// a rule changed at least one of them (a layer or weight name).
    static func renamedPairs(base: [Layer], tuned: [Layer], renamed: (base: [RenamedLayer?], tuned: [RenamedLayer?]))
        -> [Int: (Int, MatchRule)] {
        guard renamed.base.contains(where: { $0 != nil }) || renamed.tuned.contains(where: { $0 != nil }) else { return [:] }
        var tunedByName: [String: Int] = [:]
        for (t, layer) in tuned.enumerated() { tunedByName[renamed.tuned[t]?.name ?? layer.name] = t }
        var pairs: [Int: (Int, MatchRule)] = [:]
        for (b, layer) in base.enumerated() {
            if let t = tunedByName[renamed.base[b]?.name ?? layer.name], renamed.base[b] != nil || renamed.tuned[t] != nil {
                pairs[b] = (t, .renamed)
            }
        }
        return pairs
    }

    /// The pairing of `base` and `tuned` by the rules of `mode` (see `align`), with its notes.
    static func pairLayers(base: [Layer], tuned: [Layer], mode: MatchMode, bothOrdered: Bool) -> ([Int: (Int, MatchRule)], [Note]) {
        var pairs = namePairs(base: base, tuned: tuned, mode: mode)
        var notes: [Note] = []
        if mode == .auto {
            // Crossings only mean something when both files store model order.
            func rank(_ candidate: [Int: (Int, MatchRule)]) -> (Int, Int) {
                let s = score(candidate, base, tuned)
                return (s.compared, bothOrdered ? -s.crossings : 0)
            }
            var best = rank(pairs)
            // Names shifted by one constant counter offset (Keras 2.0 against tf.keras 2.2+): works
            // without model order, e.g. against a bare `.weights.h5`.
            for offset in [-1, 1] {
                guard let shifted = offsetPairs(base: base, tuned: tuned, offset: offset) else { continue }
                let r = rank(shifted)
                if r > best {
                    best = r
                    pairs = shifted
                    notes = [.counterOffset(offset)]
                }
            }
            if bothOrdered, let structural = structuralPairs(base: base, tuned: tuned), rank(structural) > best {
                let offset = counterOffset(structural, base, tuned)
                var relabelled: [Int: (Int, MatchRule)] = [:]
                var renamed = 0
                for (b, (t, _)) in structural {
                    let rule = rule(base[b].name, tuned[t].name, offset: offset)
                    if rule != .name { renamed += 1 }
                    relabelled[b] = (t, rule)
                }
                let rejected = pairs.filter { b, pair in pair.1 == .name && relabelled[b]?.0 != pair.0 }.count
                notes = [.structuralAlignment(structural: structural.count, renamed: renamed, namePairsRejected: rejected)]
                if let offset, offset != 0 { notes.append(.counterOffset(offset)) }
                pairs = relabelled
                pairReshaped(&pairs, base: base, tuned: tuned)
            }
        }
        return (pairs, notes)
    }

    /// `conv1d_1` shifted by −1 is `conv1d`, by +1 `conv1d_2`; every path component's counter moves
    /// (no suffix is counter 0). Nil when a counter would go below 0.
    static func shifted(_ name: String, by offset: Int) -> String? {
        var parts: [String] = []
        for component in name.split(separator: "/", omittingEmptySubsequences: false) {
            let (stem, counter) = splitCounter(String(component))
            let moved = (counter ?? 0) + offset
            guard moved >= 0 else { return nil }
            parts.append(moved == 0 ? stem : "\(stem)_\(moved)")
        }
        return parts.joined(separator: "/")
    }

    /// Pairs each base layer with the tuned layer named as its name shifted by `offset` (same
    /// shapes), then what is left by exact name and shape; nil when no layer pairs by the offset.
    static func offsetPairs(base: [Layer], tuned: [Layer], offset: Int) -> [Int: (Int, MatchRule)]? {
        let tunedByName = Dictionary(tuned.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var pairs: [Int: (Int, MatchRule)] = [:]
        var taken = Set<Int>()
        for (b, layer) in base.enumerated() where !layer.weights.isEmpty {
            guard let name = shifted(layer.name, by: offset), name != layer.name, let t = tunedByName[name],
                  !taken.contains(t), sameShapes(layer, tuned[t]) else { continue }
            pairs[b] = (t, .counterOffset)
            taken.insert(t)
        }
        guard !pairs.isEmpty else { return nil }
        for (b, layer) in base.enumerated() where pairs[b] == nil {
            if let t = tunedByName[layer.name], !taken.contains(t), sameShapes(layer, tuned[t]) {
                pairs[b] = (t, .name)
                taken.insert(t)
            }
        }
        pairReshaped(&pairs, base: base, tuned: tuned)
        return pairs
    }

    /// base index → (tuned index, rule): names, then normalised names, then model order by shape,
    /// then same-name layers of different shapes (reshaped).
    static func namePairs(base: [Layer], tuned: [Layer], mode: MatchMode) -> [Int: (Int, MatchRule)] {
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
        if mode == .auto { pairReshaped(&baseToTuned, base: base, tuned: tuned) }
        return baseToTuned
    }

    /// Same name, different shapes, and nothing better found: one layer, reshaped.
    static func pairReshaped(_ pairs: inout [Int: (Int, MatchRule)], base: [Layer], tuned: [Layer]) {
        let taken = Set(pairs.values.map(\.0))
        let tunedByName = Dictionary(tuned.indices.filter { !taken.contains($0) }.map { (tuned[$0].name, $0) },
                                     uniquingKeysWith: { a, _ in a })
        var used = Set<Int>()
        for b in base.indices where pairs[b] == nil {
            if let t = tunedByName[base[b].name], !used.contains(t) {
                pairs[b] = (t, .name)
                used.insert(t)
            }
        }
    }

    /// The alignment that model structure alone supports: the longest order-preserving sequence
    /// of layer pairs with equal weight shapes (and at least one weight), ties broken towards
    /// equal classes and then equal (or normalised-equal) names. Nil when the files are too big
    /// for the quadratic table.
    static func structuralPairs(base: [Layer], tuned: [Layer]) -> [Int: (Int, MatchRule)]? {
        let n = base.count, m = tuned.count
        guard n > 0, m > 0, n * m <= 4_000_000 else { return nil }
        // Each pair is worth `unit` plus a bonus of at most 3, and no alignment has more than
        // min(n, m) pairs, so a longer alignment always beats a better-named shorter one.
        let unit = 3 * (min(n, m) + 1) + 1
        // Shape signatures, classes and names as small integers, worked out once per layer.
        var ids: [String: Int] = [:]
        func id(_ text: String) -> Int {
            if let known = ids[text] { return known }
            ids[text] = ids.count
            return ids.count - 1
        }
        func signature(_ layer: Layer) -> Int {
            layer.weights.isEmpty ? -1 : id("s:" + layer.weights.map { $0.shape.map(String.init).joined(separator: "x") }.joined(separator: ","))
        }
        let bSig = base.map(signature), tSig = tuned.map(signature)
        let bClass = base.map { $0.className.map { id("c:" + $0) } ?? -1 }, tClass = tuned.map { $0.className.map { id("c:" + $0) } ?? -1 }
        let bName = base.map { id("n:" + $0.name) }, tName = tuned.map { id("n:" + $0.name) }
        let bNorm = base.map { id("n:" + normalized($0.name)) }, tNorm = tuned.map { id("n:" + normalized($0.name)) }
        func weight(_ b: Int, _ t: Int) -> Int {
            guard bSig[b] >= 0, bSig[b] == tSig[t] else { return 0 }
            var bonus = 0
            if bClass[b] >= 0, bClass[b] == tClass[t] { bonus += 1 }
            if bName[b] == tName[t] { bonus += 2 } else if bNorm[b] == tNorm[t] { bonus += 1 }
            return unit + bonus
        }
        // The table's values two rows at a time (row i from row i + 1), and for every cell the step
        // the walk below takes from it: one byte a cell, not a full table of values (at 1,600
        // layers a side that table was 20 MB of a compare's peak memory).
        enum Step: UInt8 { case pair, down, right }
        var steps = [Step](repeating: .down, count: n * m)
        // (Index m of both rows, past the last tuned layer, stays 0.)
        var below = [Int](repeating: 0, count: m + 1), row = below
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                let w = weight(i, j), diagonal = below[j + 1], down = below[j], right = row[j + 1]
                let value = max(w > 0 ? w + diagonal : 0, down, right)
                row[j] = value
                steps[i * m + j] = w > 0 && value == w + diagonal ? .pair : down >= right ? .down : .right
            }
            swap(&row, &below)
        }
        var pairs: [Int: (Int, MatchRule)] = [:]
        var i = 0, j = 0
        while i < n, j < m {
            switch steps[i * m + j] {
            case .pair:
                pairs[i] = (j, .order)
                i += 1
                j += 1
            case .down: i += 1
            case .right: j += 1
            }
        }
        return pairs
    }

    /// How good a pairing is: base parameters in shape-equal pairs, and pairs that cross (two
    /// layers in one order in the base and the other order in the tuned file).
    static func score(_ pairs: [Int: (Int, MatchRule)], _ base: [Layer], _ tuned: [Layer]) -> (compared: Int, crossings: Int) {
        let equal = pairs.filter { sameShapes(base[$0.key], tuned[$0.value.0]) && !base[$0.key].weights.isEmpty }
        let compared = equal.keys.reduce(0) { $0 + base[$1].parameterCount }
        // Pairs sorted by base position; a crossing is a descent in the tuned positions. Counting
        // descents of neighbours is enough to tell none from some.
        let order = equal.keys.sorted().map { equal[$0]!.0 }
        let crossings = zip(order, order.dropFirst()).filter { $0 > $1 }.count
        return (compared, crossings)
    }

    /// The constant difference between the tuned and base counters of structurally paired layers
    /// with the same normalised name, when every such pair agrees on it; nil otherwise.
    static func counterOffset(_ pairs: [Int: (Int, MatchRule)], _ base: [Layer], _ tuned: [Layer]) -> Int? {
        var offset: Int?
        for (b, (t, _)) in pairs {
            let x = base[b].name, y = tuned[t].name
            guard x != y, normalized(x) == normalized(y) else { continue }
            let bc = x.split(separator: "/", omittingEmptySubsequences: false).map { splitCounter(String($0)).1 ?? 0 }
            let tc = y.split(separator: "/", omittingEmptySubsequences: false).map { splitCounter(String($0)).1 ?? 0 }
            for (p, q) in zip(bc, tc) where p != q {
                if let known = offset, known != q - p { return nil }
                offset = q - p
            }
        }
        return offset
    }

    static func rule(_ baseName: String, _ tunedName: String, offset: Int?) -> MatchRule {
        if baseName == tunedName { return .name }
        if normalized(baseName) == normalized(tunedName) {
            if let offset, offset != 0 { return .counterOffset }
            return .normalizedName
        }
        return .order
    }

    static func flip(_ pairs: [Int: (Int, MatchRule)]) -> [Int: (Int, MatchRule)] {
        Dictionary(uniqueKeysWithValues: pairs.map { ($0.value.0, ($0.key, $0.value.1)) })
    }

    /// Rows in the order of `tuned`'s layers; layers only in `base` follow the row of their nearest
    /// paired predecessor. With `flipped`, `base` and `tuned` are swapped back in each row (the
    /// rows follow the real base's order).
    static func rowsInOrder(_ baseToTuned: [Int: (Int, MatchRule)], base: [Layer], tuned: [Layer],
                            renamed: (base: [RenamedLayer?], tuned: [RenamedLayer?]), flipped: Bool = false) -> [LayerMatch] {
        func row(_ b: Int?, _ t: Int?, _ rule: MatchRule?) -> LayerMatch {
            let (realBase, realTuned) = flipped ? (t, b) : (b, t)
            let (baseLayers, tunedLayers) = flipped ? (tuned, base) : (base, tuned)
            let (baseRenamed, tunedRenamed) = flipped ? (renamed.tuned, renamed.base) : (renamed.base, renamed.tuned)
            let weights: [WeightMatch]
            if let realBase, let realTuned {
                weights = matchWeights(baseLayers[realBase].weights, tunedLayers[realTuned].weights,
                                       names: (baseRenamed[realBase]?.weightNames, tunedRenamed[realTuned]?.weightNames))
            } else if let realBase {
                weights = baseLayers[realBase].weights.map { WeightMatch(base: $0, tuned: nil) }
            } else {
                weights = tunedLayers[realTuned!].weights.map { WeightMatch(base: nil, tuned: $0) }
            }
            return LayerMatch(base: realBase.map { baseLayers[$0] }, tuned: realTuned.map { tunedLayers[$0] }, rule: rule, weights: weights)
        }
        var rows: [LayerMatch] = []
        var tunedToBase: [Int: Int] = [:]
        for (b, (t, _)) in baseToTuned { tunedToBase[t] = b }
        var pendingBase = base.indices.filter { baseToTuned[$0] == nil }[...]
        func flushBase(upTo limit: Int?) {
            while let b = pendingBase.first, limit.map({ b < $0 }) ?? true {
                rows.append(row(b, nil, nil))
                pendingBase.removeFirst()
            }
        }
        for t in tuned.indices {
            if let b = tunedToBase[t] {
                flushBase(upTo: b)
                rows.append(row(b, t, baseToTuned[b]!.1))
            } else {
                rows.append(row(nil, t, nil))
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

    static func splitCounter(_ name: String) -> (String, Int?) {
        guard let underscore = name.lastIndex(of: "_"), underscore != name.startIndex,
              let index = Int(name[name.index(after: underscore)...]) else { return (name, nil) }
        return (String(name[..<underscore]), index)
    }

    static func sameShapes(_ a: Layer, _ b: Layer) -> Bool {
        a.weights.map(\.shape) == b.weights.map(\.shape)
    }

    /// Weights of a paired layer: by name (after the rename rules, where `names` gives them)
    /// where both layers have the same set of distinct names, otherwise by position. Extra
    /// weights on either side stay single.
    static func matchWeights(_ base: [Weight], _ tuned: [Weight], names: ([String]?, [String]?) = (nil, nil)) -> [WeightMatch] {
        let baseNames = names.0 ?? base.map(\.name), tunedNames = names.1 ?? tuned.map(\.name)
        if Set(baseNames).count == base.count, Set(baseNames) == Set(tunedNames), baseNames.count == tunedNames.count {
            let byName = Dictionary(uniqueKeysWithValues: zip(baseNames, base))
            return zip(tunedNames, tuned).map { WeightMatch(base: byName[$0], tuned: $1) }
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
