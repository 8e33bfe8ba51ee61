import Foundation

/// Naming rules Keras uses, needed to label what a `.weights.h5` file does not store.
enum KerasNames {
    /// Keras's `to_snake_case`: `Conv2D` → `conv2d`, `BatchNormalization` → `batch_normalization`.
    static func snakeCase(_ className: String) -> String {
        let word = className.filter { $0.isLetter || $0.isNumber || $0 == "_" }
        let chars = Array(word)
        var out = ""
        // Pass 1: an underscore before each capitalised word ("Xxx") that follows any character.
        var first = ""
        for (i, c) in chars.enumerated() {
            if i > 0, c.isUppercase, i + 1 < chars.count, chars[i + 1].isLowercase { first.append("_") }
            first.append(c)
        }
        // Pass 2: an underscore between a lowercase letter and an uppercase one.
        let second = Array(first)
        for (i, c) in second.enumerated() {
            if i > 0, c.isUppercase, second[i - 1].isLowercase { out.append("_") }
            out.append(c)
        }
        return out.lowercased()
    }

    /// Splits `conv2d_3` into (`conv2d`, 3); `dense` into (`dense`, 0).
    static func splitSuffix(_ name: String) -> (base: String, index: Int) {
        if let underscore = name.lastIndex(of: "_"), let index = Int(name[name.index(after: underscore)...]),
           index >= 0, underscore != name.startIndex {
            return (String(name[..<underscore]), index)
        }
        return (name, 0)
    }

    /// Keras class names whose snake case is not undone by capitalising each word.
    private static let irregularClasses: [String: String] = [
        "lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN", "rnn": "RNN", "conv_lstm1d": "ConvLSTM1D",
        "conv_lstm2d": "ConvLSTM2D", "conv_lstm3d": "ConvLSTM3D", "prelu": "PReLU", "relu": "ReLU",
        "leaky_relu": "LeakyReLU", "elu": "ELU", "p_re_lu": "PReLU", "re_lu": "ReLU",
        "lstm_cell": "LSTMCell", "gru_cell": "GRUCell", "mlp": "MLP",
    ]

    /// The class a `.weights.h5` group name implies (`batch_normalization_2` → `BatchNormalization`,
    /// `conv2d` → `Conv2D`): Keras names these groups by the snake case of the class.
    static func className(fromGroupName name: String) -> String {
        let base = splitSuffix(name).base
        if let irregular = irregularClasses[base] { return irregular }
        return base.split(separator: "_").map { word -> String in
            var text = word.prefix(1).uppercased() + word.dropFirst()
            // conv2d → Conv2D, conv1d_transpose → Conv1DTranspose: a "d" right after a digit is upper case.
            if let last = text.last, last == "d", text.dropLast().last?.isNumber == true {
                text = text.dropLast() + "D"
            }
            return text
        }.joined()
    }

    /// The variable names, in `save_own_variables` order, of common Keras layers; used to label
    /// `vars/<i>` where the file stores no names. `config` adjusts for optional variables.
    static func variableNames(className: String?, count: Int, config: JSONValue?) -> [String] {
        var names: [String] = switch className ?? "" {
        case "Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
             "Conv3DTranspose":
            ["kernel", "bias"]
        case "DepthwiseConv1D", "DepthwiseConv2D":
            ["depthwise_kernel", "bias"]
        case "SeparableConv1D", "SeparableConv2D":
            ["depthwise_kernel", "pointwise_kernel", "bias"]
        case "Embedding":
            ["embeddings"]
        case "BatchNormalization":
            (config?["scale"]?.bool == false ? [] : ["gamma"]) + (config?["center"]?.bool == false ? [] : ["beta"])
                + ["moving_mean", "moving_variance"]
        case "LayerNormalization", "GroupNormalization":
            (config?["scale"]?.bool == false ? [] : ["gamma"]) + (config?["center"]?.bool == false ? [] : ["beta"])
        case "PReLU":
            ["alpha"]
        // RNN cells create kernel, recurrent_kernel, then bias (when `use_bias`) in `build`
        // (keras `src/layers/rnn/lstm.py`, `gru.py`, `simple_rnn.py`, `conv_lstm.py`).
        case "LSTMCell", "GRUCell", "SimpleRNNCell", "ConvLSTMCell":
            ["kernel", "recurrent_kernel"] + (config?["use_bias"]?.bool == false ? [] : ["bias"])
        // Normalization.build adds mean, variance and count when no mean/variance were given
        // (keras `src/layers/preprocessing/normalization.py`).
        case "Normalization":
            ["mean", "variance", "count"]
        case "Discretization", "StringLookup", "IntegerLookup", "TextVectorization":
            []
        default:
            []
        }
        if names.count != count { names = Array(names.prefix(count)) }
        return names + (names.count..<max(count, names.count)).map { String($0) }
    }

    /// Attributes under which Keras 3 saves a layer's sub-objects: an RNN's `cell`, a wrapper's
    /// `layer` (TimeDistributed and the other `Wrapper`s), Bidirectional's two directions.
    static let partAttributes: Set<String> = ["cell", "layer", "forward_layer", "backward_layer"]

    private static let cellClasses: [String: String] = [
        "LSTM": "LSTMCell", "GRU": "GRUCell", "SimpleRNN": "SimpleRNNCell",
        "ConvLSTM1D": "ConvLSTMCell", "ConvLSTM2D": "ConvLSTMCell", "ConvLSTM3D": "ConvLSTMCell",
    ]

    /// The class (and config) of a layer's sub-object at `relative` (`["forward_layer", "cell"]`),
    /// from the owner's class and config: LSTM's `cell` is an LSTMCell configured by the LSTM's
    /// own config; RNN's is its `cell` config; a wrapper's `layer` and Bidirectional's directions
    /// are its `layer` (and `backward_layer`) configs. Nil where nothing says.
    static func partClass(_ relative: [String], ownerClass: String?, ownerEntry: KerasConfig.Entry?) -> (String?, JSONValue?) {
        var className = ownerClass
        var config = ownerEntry?.config
        var entry = ownerEntry
        for component in relative {
            switch component {
            case "cell":
                if className == "RNN", let cell = config?["cell"] {
                    className = cell["class_name"]?.string
                    config = cell["config"]
                } else {
                    className = className.flatMap { cellClasses[$0] }
                }
                entry = nil
            case "layer", "forward_layer":
                entry = entry?.wrapped
                className = entry?.className
                config = entry?.config
            case "backward_layer":
                entry = entry?.backward ?? entry?.wrapped
                className = entry?.className
                config = entry?.config
            default:
                return (nil, nil)
            }
        }
        return (className, config)
    }

    /// What `optimizers.get("adam")` builds, as a config: the class Keras maps the name to, with
    /// its default learning rate (keras `src/optimizers/__init__.py` and each optimizer's
    /// `__init__`; the same defaults in tf-keras `optimizers/`). Nil for a name Keras does not know.
    static func optimizerConfig(forName name: String) -> JSONValue? {
        let known: [String: (String, Double)] = [
            "adam": ("Adam", 0.001), "sgd": ("SGD", 0.01), "rmsprop": ("RMSprop", 0.001), "adagrad": ("Adagrad", 0.001),
            "adadelta": ("Adadelta", 0.001), "adamax": ("Adamax", 0.001), "nadam": ("Nadam", 0.001),
            "ftrl": ("Ftrl", 0.001), "adamw": ("AdamW", 0.001), "lion": ("Lion", 0.001), "adafactor": ("Adafactor", 0.001),
            "lamb": ("Lamb", 0.001),
        ]
        guard let (className, rate) = known[name.lowercased()] else {
            return .object(["class_name": .string(name), "config": .object(["name": .string(name)])])
        }
        return .object(["class_name": .string(className),
                        "config": .object(["name": .string(name.lowercased()), "learning_rate": .number(rate)])])
    }

    /// `kernel` from `conv2d/kernel:0`, `sequential/conv2d/kernel` or `kernel`.
    static func shortWeightName(_ stored: String) -> String {
        var last = String(stored.split(separator: "/").last ?? Substring(stored))
        if let colon = last.lastIndex(of: ":"), Int(last[last.index(after: colon)...]) != nil {
            last = String(last[..<colon])
        }
        return last
    }

    /// The stored weight name below its layer: `forward_lstm_1/kernel` from
    /// `bidirectional_1/forward_lstm_1/kernel:0` in layer `bidirectional_1`, and
    /// `forward_gru/gru_cell/kernel` from Keras 3's legacy writer's full variable path
    /// `sequential/bidirectional/forward_gru/gru_cell/kernel`.
    static func relativeWeightName(_ stored: String, layer: String) -> String {
        var parts = stored.split(separator: "/").map(String.init)
        if let index = parts.dropLast().firstIndex(of: layer) { parts.removeFirst(index + 1) }
        if let last = parts.last { parts[parts.count - 1] = shortWeightName(last) }
        return parts.joined(separator: "/")
    }

    /// Names Keras gave the optimizer's step counter: `iterations` (Keras 2; a second optimizer
    /// in the session made `iterations_1`), `iter` (tf.keras OptimizerV2), `iteration` (Keras 3).
    static func isIterationCounter(_ short: String) -> Bool {
        if ["iter", "iteration", "iterations"].contains(short) { return true }
        let (base, index) = splitSuffix(short)
        return base == "iterations" && index > 0
    }

    /// Orders strings with digit runs compared as numbers: `dense_2` before `dense_10`.
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 48 && c.value <= 57 }
        var i = a.unicodeScalars.makeIterator(), j = b.unicodeScalars.makeIterator()
        var x = i.next(), y = j.next()
        while let cx = x, let cy = y {
            if isDigit(cx), isDigit(cy) {
                var nx = "", ny = ""
                while let c = x, isDigit(c) { nx.unicodeScalars.append(c); x = i.next() }
                while let c = y, isDigit(c) { ny.unicodeScalars.append(c); y = j.next() }
                let tx = nx.drop { $0 == "0" }, ty = ny.drop { $0 == "0" }
                if tx.count != ty.count { return tx.count < ty.count }
                if tx != ty { return tx < ty }
                continue
            }
            if cx != cy { return cx.value < cy.value }
            x = i.next()
            y = j.next()
        }
        return x == nil && y != nil
    }
}
