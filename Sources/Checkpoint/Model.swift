/// The on-disk layout a checkpoint was read from.
public enum CheckpointFormat: String, Sendable, Codable, CaseIterable {
    /// `model.save("m.h5")`: tf.keras / Keras 2, or Keras 3's legacy writer.
    case legacyH5 = "legacy-h5"
    /// `save_weights("w.h5")` in tf.keras / Keras 2.
    case legacyWeightsH5 = "legacy-weights-h5"
    /// `save_weights("x.weights.h5")` (Keras 3, tf.keras 2.13+).
    case weightsH5 = "weights-h5"
    /// `model.save("m.keras")`: a zip holding `model.weights.h5`.
    case kerasZip = "keras-zip"
    /// A `.keras` saved with `zipped=False`: a folder holding `model.weights.h5`.
    case kerasDirectory = "keras-directory"
    /// `save_weights("x.weights.json", max_shard_size=…)`: an index and its shard files.
    case shardedJSON = "sharded-json"
    /// One `.safetensors` file (Hugging Face, keras-hub exports).
    case safetensors = "safetensors"
    /// `model.safetensors.index.json` and the `.safetensors` shards its `weight_map` names.
    case safetensorsSharded = "safetensors-sharded"
    /// `tf_model.h5.index.json` and its `.h5` shards: a Hugging Face TF model's sharded
    /// `save_pretrained` (datasets named by TF variable paths, listed in each shard's `layer_names`).
    case hfTFSharded = "hf-tf-sharded"
    /// Built in memory with `Checkpoint(inMemory:)`, for tests and tools.
    case inMemory = "in-memory"
}

/// Element type of a stored weight.
public enum DType: String, Sendable, Codable {
    case float16, bfloat16, float32, float64
    case int8, int16, int32, int64, uint8, uint16, uint32, uint64
    case other

    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64: true
        default: false
        }
    }

    /// 64-bit integers: not every value is exact as a Double.
    public var isWideInteger: Bool { self == .int64 || self == .uint64 }

    /// Bytes per element as stored.
    public var byteWidth: Int {
        switch self {
        case .int8, .uint8: 1
        case .float16, .bfloat16, .int16, .uint16: 2
        case .float32, .int32, .uint32: 4
        case .float64, .int64, .uint64: 8
        case .other: 0
        }
    }
}

/// One stored weight tensor of a layer. Two weights are equal when everything but their storage is.
public struct Weight: Sendable, Equatable {
    /// Short variable name: `kernel`, `bias`, `gamma`, … (or the index when the format
    /// stores no name and the layer class is not known).
    public let name: String
    /// The name exactly as the file stores it (`weight_names` entry), nil where none is stored.
    public let storedName: String?
    /// Where the values are: the HDF5 dataset path (prefixed with `shard:` for sharded weights),
    /// the safetensors tensor name.
    public let path: String
    /// Dimensions; empty for a scalar.
    public let shape: [Int]
    public let dtype: DType
    /// Number of elements.
    public let count: Int
    /// From the model config where it says; nil when the checkpoint does not record it.
    public let trainable: Bool?
    /// Where its values are stored.
    public let tensor: any TensorSource

    /// A weight whose shape, dtype and count are its tensor's.
    public init(name: String, storedName: String? = nil, path: String, trainable: Bool? = nil, tensor: any TensorSource) {
        self.name = name
        self.storedName = storedName
        self.path = path
        shape = tensor.shape
        dtype = tensor.dtype
        count = tensor.count
        self.trainable = trainable
        self.tensor = tensor
    }

    public static func == (a: Weight, b: Weight) -> Bool {
        (a.name, a.storedName, a.path, a.trainable) == (b.name, b.storedName, b.path, b.trainable)
            && (a.shape, a.dtype, a.count) == (b.shape, b.dtype, b.count)
    }

    /// The same weight without the way to its values (which keeps its file open): what a report
    /// holds, so that a checkpoint's files and metadata are released once the pass is done.
    public var detached: Weight {
        Weight(name: name, storedName: storedName, path: path, trainable: trainable,
               tensor: DetachedTensor(shape: shape, dtype: dtype, count: count))
    }
}

/// A tensor's description alone (see `Weight.detached`); its values cannot be read.
struct DetachedTensor: TensorSource {
    let shape: [Int]
    let dtype: DType
    let count: Int

    func open() throws -> any TensorValues {
        throw CheckpointError(.cannotOpen, file: "", message: "a detached weight's values are not kept")
    }
}

/// One layer that owns weights, in model order.
public struct Layer: Sendable, Equatable {
    /// The layer's name (for layers inside a nested model: `outer/inner`).
    public let name: String
    /// Keras class name when the checkpoint records it or it follows from the layout.
    public let className: String?
    /// Where the layer lives in the file (HDF5 group path).
    public let path: String
    public let weights: [Weight]
    /// From the model config; nil when not recorded.
    public let trainable: Bool?

    public var parameterCount: Int { weights.reduce(0) { $0 + $1.count } }

    public init(name: String, className: String? = nil, path: String, weights: [Weight], trainable: Bool? = nil) {
        self.name = name
        self.className = className
        self.path = path
        self.weights = weights
        self.trainable = trainable
    }
}

/// The optimizer state saved with the model: kept apart from the model's weights.
public struct OptimizerState: Sendable, Equatable {
    /// Class name from the stored config (`Adam`, `SGD`, …), nil when no config is stored.
    public let className: String?
    /// The optimizer's own name (`adam`), where stored.
    public let name: String?
    /// The saved step counter.
    public let iterations: Int64?
    /// Number of optimizer variables (slots, counters) stored.
    public let variableCount: Int
    /// Number of elements in those variables.
    public let parameterCount: Int
    /// The optimizer's stored config (`{"class_name", "config": {...}}`), nil when not stored.
    /// Where the file names the optimizer only by a string (`"adam"`), the config Keras builds
    /// from it (the class with its defaults), and `namedOnly` is true.
    public let config: JSONValue?
    /// The value of Keras 3's `learning_rate` optimizer variable (the rate in force when saved;
    /// Keras restores it over the config's), nil where the file stores none.
    public var storedLearningRate: Double? = nil
    /// The stored state is a mixed-precision LossScaleOptimizer's (it has an inner optimizer).
    public var lossScaled = false
    /// The inner optimizer's own name, where recorded.
    public var innerName: String? = nil
    /// How many of `variableCount` are the inner optimizer's own copy (`/optimizer/inner_optimizer`).
    public var innerVariableCount = 0
    /// The config named the optimizer by a string only.
    public var namedOnly = false
}
