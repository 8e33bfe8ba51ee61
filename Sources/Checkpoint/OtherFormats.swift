import Foundation

/// Files people pass by mistake that are not Keras checkpoints: named by what they are, with
/// what to do instead. Each check is conservative (a signature, not a guess from the name),
/// so a real checkpoint is never refused by it.
enum OtherFormats {
    /// What the first bytes of a file say it is, when that is a format WeightDrift does not read.
    static func identify(head: Data, path: String) -> String? {
        let bytes = [UInt8](head)
        if head.starts(with: Data("version https://git-lfs.github.com/spec/".utf8)) {
            let text = String(decoding: head, as: UTF8.self)
            let size = text.split(separator: "\n").first { $0.hasPrefix("size ") }.map { " of \($0.dropFirst(5)) bytes" } ?? ""
            return "a Git LFS pointer file, not the model itself (the real file\(size) is in LFS storage): "
                + "run `git lfs pull` (or `git lfs fetch && git lfs checkout`) in the repository, then pass the file again"
        }
        // Python pickle, protocol 2–5 (0x80 then the protocol number); `torch.save` before
        // PyTorch 1.6 and joblib/pickle dumps of Keras objects start so.
        if bytes.count >= 2, bytes[0] == 0x80, (2...5).contains(bytes[1]) {
            return "a Python pickle (a legacy torch.save, joblib or pickle dump), not a Keras checkpoint: "
                + "load it in Python and save the model with Keras (model.save(\"m.keras\") or save_weights)"
        }
        // ONNX ModelProto: field 1 `ir_version` (varint, 3–15 in real files), then field 2
        // `producer_name`, a short printable string.
        if bytes.count >= 4, bytes[0] == 0x08, (3...15).contains(bytes[1]), bytes[2] == 0x12, bytes[3] > 0, bytes[3] < 64,
           bytes.count >= 4 + Int(bytes[3]), bytes[4..<(4 + Int(bytes[3]))].allSatisfy({ (0x20..<0x7F).contains($0) }) {
            return "an ONNX model (ir_version \(bytes[1])), not a Keras checkpoint: compare the Keras checkpoints it was exported from"
        }
        // TensorFlow SavedModel protobuf: field 1 `saved_model_schema_version` = 1, then field 2
        // `meta_graphs`.
        if bytes.count >= 3, bytes[0] == 0x08, bytes[1] == 0x01, bytes[2] == 0x12,
           (path as NSString).lastPathComponent.hasSuffix(".pb") {
            return "a TensorFlow SavedModel graph (saved_model.pb), not a Keras checkpoint: save the model with "
                + "model.save(\"m.keras\") (or .h5) and pass that"
        }
        // NumPy `.npy` (`np.save`): the magic "\x93NUMPY".
        if head.starts(with: [0x93] + Array("NUMPY".utf8)) {
            return "a NumPy array file (np.save), not a checkpoint: it holds one array with no layer names; "
                + "save the model with Keras (model.save(\"m.keras\") or save_weights) or the arrays as safetensors "
                + "(safetensors.numpy.save_file({\"layer/weight\": array, …}, \"w.safetensors\"))"
        }
        // GGUF (llama.cpp and others): "GGUF" then a little-endian version.
        if bytes.count >= 8, head.starts(with: Array("GGUF".utf8)), bytes[5] == 0, bytes[6] == 0, bytes[7] == 0 {
            return "a GGUF model (llama.cpp), not a Keras checkpoint: its weights are usually quantised; "
                + "compare the safetensors checkpoints it was converted from"
        }
        // TensorFlow Lite flatbuffer: the file identifier "TFL3" at byte 4.
        if bytes.count >= 8, bytes[4...7].elementsEqual(Array("TFL3".utf8)) {
            return "a TensorFlow Lite model (.tflite), not a Keras checkpoint: compare the Keras checkpoints it was converted from"
        }
        // TensorFlow checkpoint index (`.index`): an SSTable ending in the magic 0xdb4775248b80fb57.
        if isTensorFlowCheckpointIndex(path) {
            return "a TensorFlow checkpoint index (tf.train.Checkpoint / save_format=\"tf\"), not a Keras HDF5 checkpoint: "
                + "load it and save with model.save(\"m.keras\") or model.save_weights(\"w.weights.h5\")"
        }
        if (path as NSString).lastPathComponent.range(of: #"\.data-[0-9]{5}-of-[0-9]{5}$"#, options: .regularExpression) != nil {
            return "the data part of a TensorFlow checkpoint (with its .index file), not a Keras HDF5 checkpoint: "
                + "load it and save with model.save(\"m.keras\") or model.save_weights(\"w.weights.h5\")"
        }
        return nil
    }

    private static func isTensorFlowCheckpointIndex(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size >= 48, (try? handle.seek(toOffset: size - 8)) != nil,
              let tail = try? handle.read(upToCount: 8), tail.count == 8 else { return false }
        return [UInt8](tail) == [0x57, 0xFB, 0x80, 0x8B, 0x24, 0x75, 0x47, 0xDB]
    }

    /// A zip that is not a `.keras` archive but a PyTorch `torch.save` file (PyTorch 1.6+):
    /// its members sit in one folder with `data.pkl`.
    static func identifyZip(memberNames: [String]) -> String? {
        if memberNames.contains(where: { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }) {
            return "a PyTorch torch.save archive (data.pkl), not a Keras checkpoint: WeightDrift reads Keras files only"
        }
        // NumPy `.npz` (`np.savez`): every member an `.npy` array.
        if !memberNames.isEmpty, memberNames.allSatisfy({ $0.hasSuffix(".npy") }) {
            return "a NumPy .npz archive (np.savez) of \(memberNames.count) arrays, not a checkpoint: save the model with Keras "
                + "(model.save(\"m.keras\") or save_weights) or the arrays as safetensors (safetensors.numpy.save_file)"
        }
        return nil
    }

    /// A folder that is a TensorFlow SavedModel, or a Hugging Face `save_pretrained` folder
    /// whose weights are in a format not read here.
    static func identifyDirectory(_ path: String) -> String? {
        func has(_ name: String) -> Bool { FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(name)) }
        if has("saved_model.pb") {
            return "a TensorFlow SavedModel folder (saved_model.pb), not a Keras checkpoint: save the model with "
                + "model.save(\"m.keras\") (or .h5) and pass that"
        }
        if has("pytorch_model.bin") || has("pytorch_model.bin.index.json") {
            return "a Hugging Face folder with PyTorch weights only (pytorch_model.bin, a pickle, not read here): "
                + "save it with model.save_pretrained(folder, safe_serialization=True) and pass that folder or its model.safetensors"
        }
        if has("flax_model.msgpack") || has("flax_model.msgpack.index.json") {
            return "a Hugging Face folder with Flax weights only (flax_model.msgpack, not read here): "
                + "save it with safe_serialization=True (model.safetensors) and pass that"
        }
        // A pipeline folder (sentence-transformers' `0_Transformer/`, diffusers' `unet/`, …)
        // whose checkpoints sit one level down: name them (the first 100 entries looked at).
        let found = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().prefix(100).compactMap { entry -> String? in
            let folder = (path as NSString).appendingPathComponent(entry)
            guard FileStatus(linkAt: folder)?.kind == .directory,
                  let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
            let checkpoint = names.sorted().first { $0.hasSuffix(".safetensors") || $0.hasSuffix(".safetensors.index.json")
                || $0 == "model.weights.h5" || $0 == "tf_model.h5" || $0.hasSuffix(".keras") }
            return checkpoint.map { entry + "/" + $0 }
        }
        if !found.isEmpty {
            let shown = found.prefix(3).joined(separator: ", ") + (found.count > 3 ? ", …" : "")
            return "a folder whose checkpoints are in its subfolders (\(shown)): pass one of those"
        }
        return nil
    }

    /// A JSON file that is a Keras model config (`model.to_json()`, a `.keras` archive's
    /// `config.json`) rather than a sharded-weights index.
    static func identifyJSON(_ value: JSONValue) -> String? {
        if value["class_name"]?.string != nil, value["config"] != nil {
            return "a Keras model config (model.to_json() or a .keras archive's config.json): it holds no weights; "
                + "pass the .keras, .h5 or .weights.h5 file that has them"
        }
        return nil
    }
}
