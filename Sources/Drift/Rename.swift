import Checkpoint
import Foundation

/// One `rename:` rule of a policy (or `--rename`): a regular expression over one file's weight
/// paths (`layer/weight`, e.g. `encoder.layers.0.dense/weight` or `dense_1/kernel`) and its
/// replacement template (`$1` is the first group). A side's rules apply in order, each to the path
/// as the rules before it left it, and each replaces every match in the path; the renamed path's
/// last component is the weight's new name, the rest the layer's.
public struct RenameRule: Sendable, Equatable {
    public let side: Side
    public let pattern: String
    public let replacement: String
    /// How the rule is named in errors: `rename.tuned[1]` or `--rename 'a=b'`.
    public let label: String

    /// Refuses a pattern that is not a valid regular expression, naming the rule.
    public init(side: Side, pattern: String, replacement: String, label: String) throws {
        self.side = side
        self.pattern = pattern
        self.replacement = replacement
        self.label = label
        _ = try regex()
    }

    func regex() throws -> NSRegularExpression {
        guard !pattern.isEmpty else { throw PolicyError("\(label): match: a regular expression is required") }
        do {
            return try NSRegularExpression(pattern: pattern)
        } catch {
            throw PolicyError("\(label): match '\(pattern)' is not a valid regular expression")
        }
    }
}

/// A layer's names after its side's rename rules: nil where no rule changed them.
struct RenamedLayer: Equatable {
    let name: String
    /// The new names of the layer's weights, in its stored order.
    let weightNames: [String]
}

enum Renaming {
    /// Every rule runs on every weight path: a bound that keeps a hostile policy from taking hours.
    static let maxRules = 1000

    /// The renamed names of `layers` under `rules` (one side's), index by index; nil where a
    /// layer keeps its names. Throws when a rule matches no weight path of its side, when a rule
    /// splits one layer's weights across layers or leaves no `layer/weight`, and when two layers
    /// (or two weights of a layer) end up with the same name.
    static func apply(_ rules: [RenameRule], to layers: [Layer], side: Side, file: String) throws -> [RenamedLayer?] {
        guard !rules.isEmpty else { return layers.map { _ in nil } }
        guard rules.count <= maxRules else {
            throw PolicyError("\(rules.count) rename rules (policy and --rename) for the \(side.rawValue) file \(file); at most \(maxRules) are read")
        }
        let compiled = try rules.map { ($0, try $0.regex()) }
        var used = Set<Int>()
        func rename(_ path: String) throws -> String {
            var renamed = path
            for (index, (rule, regex)) in compiled.enumerated() {
                let range = NSRange(renamed.startIndex..., in: renamed)
                guard regex.firstMatch(in: renamed, range: range) != nil else { continue }
                used.insert(index)
                renamed = regex.stringByReplacingMatches(in: renamed, range: range, withTemplate: rule.replacement)
            }
            guard let slash = renamed.lastIndex(of: "/"), slash != renamed.startIndex, renamed.index(after: slash) != renamed.endIndex else {
                throw PolicyError("rename rules turn '\(path)' of \(file) into '\(renamed)', which is not a layer/weight path")
            }
            return renamed
        }
        var result: [RenamedLayer?] = []
        var owner: [String: (name: String, changed: Bool)] = [:]
        for layer in layers {
            var layerName: String?
            var weightNames: [String] = []
            for weight in layer.weights {
                let path = "\(layer.name)/\(weight.name)"
                let renamed = try rename(path)
                let slash = renamed.lastIndex(of: "/")!
                let newLayer = String(renamed[..<slash])
                if let layerName, layerName != newLayer {
                    throw PolicyError("rename rules split layer '\(layer.name)' of \(file): its weights would belong to "
                                      + "'\(layerName)' and '\(newLayer)'; rename every weight of a layer alike")
                }
                layerName = newLayer
                weightNames.append(String(renamed[renamed.index(after: slash)...]))
            }
            if let clash = Dictionary(grouping: weightNames, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
                throw PolicyError("rename rules give two weights of layer '\(layer.name)' of \(file) the same name '\(clash)'")
            }
            let name = layerName ?? layer.name
            let changed = name != layer.name || weightNames != layer.weights.map(\.name)
            if let other = owner[name], changed || other.changed {
                throw PolicyError("rename rules give layers '\(other.name)' and '\(layer.name)' of \(file) the same name '\(name)'")
            }
            owner[name] = (layer.name, changed)
            result.append(changed ? RenamedLayer(name: name, weightNames: weightNames) : nil)
        }
        for (index, (rule, _)) in compiled.enumerated() where !used.contains(index) {
            throw PolicyError("\(rule.label) (match: '\(rule.pattern)') matches no layer/weight path in the \(side.rawValue) file "
                              + "\(file) (paths look like '\(layers.first.map { "\($0.name)/\($0.weights.first?.name ?? "")" } ?? "")'); "
                              + "fix or remove it (a rule that matches nothing does not apply)")
        }
        return result
    }
}
