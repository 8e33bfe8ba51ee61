public import Checkpoint
public import Drift

/// `weightdrift inspect`: what a checkpoint holds, as a table or JSON.
public enum InspectReport {
    public static let schemaVersion = 1

    public static func json(_ checkpoint: Checkpoint) -> JSONValue {
        var fields: [String: JSONValue] = [
            "schemaVersion": .int(schemaVersion),
            "tool": ToolInfo.json,
            "path": .string(checkpoint.path),
            "format": .string(checkpoint.format.rawValue),
            "kerasVersion": .optional(checkpoint.kerasVersion),
            "backend": .optional(checkpoint.backend),
            "layerOrder": .string(checkpoint.layerOrder),
            "totalParameters": .int(checkpoint.totalParameters),
            "notes": .array(checkpoint.notes.map { .string($0) }),
            "optimizer": checkpoint.optimizer.map(optimizerJSON) ?? .null,
            "training": TrainingReport.setupJSON(TrainingSetup(checkpoint.optimizer)),
            "metadata": checkpoint.metadata.map { .object($0.mapValues { .string($0) }) } ?? .null,
        ]
        fields["layers"] = .array(checkpoint.allLayers.map { layer in
            .object([
                "name": .string(layer.name),
                "className": .optional(layer.className),
                "path": .string(layer.path),
                "trainable": .optional(layer.trainable),
                "parameters": .int(layer.parameterCount),
                "weights": .array(layer.weights.map { weight in
                    .object([
                        "name": .string(weight.name),
                        "storedName": .optional(weight.storedName),
                        "path": .string(weight.path),
                        "shape": .shape(weight.shape),
                        "dtype": .string(weight.dtype.rawValue),
                        "count": .int(weight.count),
                        "trainable": .optional(weight.trainable),
                    ])
                }),
            ])
        })
        return .object(fields)
    }

    static func optimizerJSON(_ optimizer: OptimizerState) -> JSONValue {
        .object([
            "className": .optional(optimizer.className),
            "name": .optional(optimizer.name),
            "iterations": optimizer.iterations.map { .number(Double($0)) } ?? .null,
            "variableCount": .int(optimizer.variableCount),
            "parameterCount": .int(optimizer.parameterCount),
            "config": optimizer.config ?? .null,
        ])
    }

    public static func table(_ checkpoint: Checkpoint) -> String {
        let safe = Sanitize.terminal
        var out = "\(safe(checkpoint.path))\n"
        out += "format: \(checkpoint.format.rawValue)"
        out += "   keras: \(safe(checkpoint.kerasVersion ?? "not stored"))"
        if let backend = checkpoint.backend { out += "   backend: \(safe(backend))" }
        out += "   layer order: \(checkpoint.layerOrder == "model" ? "model" : "by path (not stored in this format)")\n\n"
        var table = TextTable([("layer", .left), ("class", .left), ("weight", .left), ("shape", .left),
                               ("dtype", .left), ("params", .right)])
        // Weightless layers are listed where they are in model order; a run of them is folded.
        var weightless: [Layer] = []
        func flush() {
            if weightless.count == 1, let layer = weightless.first {
                table.add([layer.name, layer.className ?? "?", "—", "", "", "0"])
            } else if !weightless.isEmpty {
                table.add(["… \(weightless.count) layers without weights", "", "", "", "", ""])
            }
            weightless = []
        }
        for layer in checkpoint.allLayers {
            if layer.weights.isEmpty {
                weightless.append(layer)
                continue
            }
            flush()
            for (index, weight) in layer.weights.enumerated() {
                table.add([index == 0 ? layer.name : "", index == 0 ? (layer.className ?? "?") : "", weight.name,
                           shapeText(weight.shape), weight.dtype.rawValue, grouped(weight.count)])
            }
        }
        flush()
        out += table.render()
        let weightCount = checkpoint.layers.reduce(0) { $0 + $1.weights.count }
        let withoutWeights = checkpoint.allLayers.count - checkpoint.layers.count
        out += "\ntotal: \(checkpoint.layers.count) layers with weights"
            + (withoutWeights > 0 ? " (and \(withoutWeights) without)" : "")
            + ", \(weightCount) weights, \(grouped(checkpoint.totalParameters)) parameters\n"
        if let optimizer = checkpoint.optimizer {
            var line = "optimizer: \(safe(optimizer.className ?? optimizer.name ?? "unknown"))"
            if let iterations = optimizer.iterations { line += ", \(grouped(Int(iterations))) iterations" }
            if optimizer.variableCount == 0 {
                line += " (config only: no optimizer state stored)"
            } else {
                line += ", \(optimizer.variableCount) variable\(optimizer.variableCount == 1 ? "" : "s") (\(grouped(optimizer.parameterCount)) values, not compared"
                if optimizer.innerVariableCount > 0 {
                    line += "; \(optimizer.innerVariableCount) of them the inner optimizer's own copy"
                }
                line += ")"
            }
            out += line + "\n"
            if let setup = TrainingSetup(optimizer) { out += "training: \(safe(setup.summary))\n" }
        } else {
            out += "optimizer: none stored\n"
        }
        for note in checkpoint.notes { out += "note: \(safe(note))\n" }
        if let metadata = checkpoint.metadata, !metadata.isEmpty {
            var table = TextTable([("metadata", .left), ("value", .left)])
            for key in metadata.keys.sorted() { table.add([key, metadata[key] ?? ""]) }
            out += "\n" + table.render()
        }
        return out
    }
}

/// `inspect --stats`: norms, ranges and NaN/Inf counts per layer and weight.
public enum HealthReport {
    public static func json(_ checkpoint: Checkpoint, _ health: [LayerHealth]) -> JSONValue {
        guard case .object(var fields) = InspectReport.json(checkpoint), case .array(let layers) = fields["layers"] else {
            return InspectReport.json(checkpoint)
        }
        // The JSON lists every layer (weightless ones too); health covers the layers with weights.
        var remaining = health[...]
        fields["layers"] = .array(layers.map { layerJSON in
            guard case .object(var layer) = layerJSON, case .array(let weights) = layer["weights"], !weights.isEmpty,
                  let layerHealth = remaining.popFirst() else { return layerJSON }
            layer["stats"] = stats(layerHealth.stats)
            layer["weights"] = .array(zip(weights, layerHealth.weights).map { weightJSON, weightStats in
                guard case .object(var weight) = weightJSON else { return weightJSON }
                weight["stats"] = stats(weightStats)
                return .object(weight)
            })
            return .object(layer)
        })
        let nonFinite = health.reduce(0) { $0 + $1.stats.nonFinite }
        fields["health"] = .object([
            "nanCount": .int(health.reduce(0) { $0 + $1.stats.nanCount }),
            "infCount": .int(health.reduce(0) { $0 + $1.stats.infCount }),
            "verdict": .string(nonFinite == 0 ? "pass" : "fail"),
            "firstNonFiniteLayer": .optional(health.first { $0.stats.nonFinite > 0 }?.layer.name),
            "diagnosis": .optional(diagnosis(checkpoint, health)),
        ])
        return .object(fields)
    }

    static func diagnosis(_ checkpoint: Checkpoint, _ health: [LayerHealth]) -> String? {
        NonFiniteDiagnosis.find(health.map { ($0.layer.name, $0.stats.nanCount, $0.stats.infCount) }, side: .tuned,
                                setup: TrainingSetup(checkpoint.optimizer)).map { Sentences.diagnosis($0, standalone: true) }
    }

    static func stats(_ s: ValueStats) -> JSONValue {
        .object([
            "norm": .optional(s.norm), "min": .optional(s.min), "max": .optional(s.max), "mean": .optional(s.mean),
            "rms": .optional(s.rms), "nanCount": .int(s.nanCount), "infCount": .int(s.infCount),
            "zeroFraction": .number(s.count > 0 ? Double(s.zeroCount) / Double(s.count) : 0),
        ])
    }

    public static func table(_ checkpoint: Checkpoint, _ health: [LayerHealth]) -> String {
        var out = "\(Sanitize.terminal(checkpoint.path))\nformat: \(checkpoint.format.rawValue)   "
            + "keras: \(Sanitize.terminal(checkpoint.kerasVersion ?? "not stored"))\n\n"
        var table = TextTable([("layer", .left), ("weight", .left), ("shape", .left), ("dtype", .left), ("norm", .right),
                               ("min", .right), ("max", .right), ("mean", .right), ("NaN", .right), ("Inf", .right)])
        for layerHealth in health {
            for (index, (weight, s)) in zip(layerHealth.layer.weights, layerHealth.weights).enumerated() {
                table.add([index == 0 ? layerHealth.layer.name : "", weight.name, shapeText(weight.shape), weight.dtype.rawValue,
                           s.norm.map(format) ?? "—", s.min.map(format) ?? "—", s.max.map(format) ?? "—", s.mean.map(format) ?? "—",
                           String(s.nanCount), String(s.infCount)])
            }
        }
        out += table.render()
        if let diagnosis = diagnosis(checkpoint, health) {
            out += "\nFAIL: \(Sanitize.terminal(diagnosis))\n"
        } else {
            out += "\nPASS: all \(grouped(checkpoint.totalParameters)) values finite\n"
        }
        return out
    }
}
