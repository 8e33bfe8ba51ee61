/// The layer tree of a stored Keras model config (legacy `model_config` or `.keras` `config.json`).
struct KerasConfig {
    struct Entry {
        let name: String
        let className: String
        let trainable: Bool?
        let config: JSONValue?
        /// The layers of a nested model, in its order; empty for plain layers.
        let children: [Entry]
        var isModel: Bool { !children.isEmpty }
        /// The layer a wrapper (Bidirectional, TimeDistributed, …) holds, from its `layer` config.
        var wrapped: Entry? { config?["layer"].flatMap(KerasConfig.entry) }
        /// Bidirectional's backward layer, when its config stores one.
        var backward: Entry? { config?["backward_layer"].flatMap(KerasConfig.entry) }
    }

    let root: Entry

    init?(_ json: JSONValue?) {
        guard let json, let root = Self.entry(json) else { return nil }
        self.root = root
    }

    static func entry(_ json: JSONValue) -> Entry? {
        guard let className = json["class_name"]?.string else { return nil }
        let config = json["config"]
        let name = config?["name"]?.string ?? json["name"]?.string ?? ""
        // Keras 1.x–2.1 stored a Sequential's config as the bare list of its layers
        // (keras 2.0.5 `Sequential.get_config` returns `config = []` + one entry per layer);
        // later versions as `{"name": …, "layers": [...]}`.
        let children = (config?.array ?? config?["layers"]?.array)?.compactMap(entry) ?? []
        return Entry(name: name, className: className, trainable: config?["trainable"]?.bool, config: config,
                     children: children)
    }

    /// The layer of that name, searching `scope` (a nested model) first, then the whole tree.
    func find(_ name: String, in scope: Entry? = nil) -> Entry? {
        if let scope, let hit = scope.children.first(where: { $0.name == name }) { return hit }
        return Self.search(name, in: root)
    }

    private static func search(_ name: String, in entry: Entry) -> Entry? {
        for child in entry.children {
            if child.name == name { return child }
            if let hit = search(name, in: child) { return hit }
        }
        return nil
    }
}

/// The optimizer class name from a stored optimizer config, unwrapping tf-keras's `Custom>`
/// prefix and a mixed-precision LossScaleOptimizer to the real optimizer inside it.
func optimizerClassName(_ config: JSONValue?) -> String? {
    guard let config else { return nil }
    var name = config["class_name"]?.string
    if let inner = config["config"]?["inner_optimizer"], name?.contains("LossScaleOptimizer") == true,
       let innerName = optimizerClassName(inner) {
        return innerName
    }
    if let prefixed = name, prefixed.hasPrefix("Custom>") { name = String(prefixed.dropFirst("Custom>".count)) }
    return name
}
