public import Checkpoint

/// `inspect --stats`: one streamed pass over a single checkpoint, per weight and per layer.
public struct LayerHealth: Sendable {
    public let layer: Layer
    public let stats: ValueStats
    public let weights: [ValueStats]
}

public enum Health {
    public static func check(_ checkpoint: Checkpoint) throws -> [LayerHealth] {
        var buffer: [Double] = []
        return try checkpoint.layers.map { layer in
            var total = ValueStats()
            let weights = try layer.weights.map { weight in
                let stats = try DriftEngine.stats(weight, in: checkpoint, buffer: &buffer)
                total.merge(stats)
                return stats
            }
            return LayerHealth(layer: layer, stats: total, weights: weights)
        }
    }
}
