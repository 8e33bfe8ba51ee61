import HDF5

/// A weight stored as an HDF5 dataset: the file (kept open by the checkpoint's weights) and the
/// dataset's path there. The dataset is opened when the weight is read, not when it is listed.
struct HDF5Tensor: TensorSource {
    let file: HDF5.File
    let datasetPath: String
    let shape: [Int]
    let dtype: DType
    let count: Int
    /// The weight's path as the checkpoint names it (with a shard prefix), for errors.
    let object: String
    /// Where its bytes start in the OS file, when contiguous.
    let fileOffset: UInt64?

    var storedAt: (path: String, offset: UInt64)? { fileOffset.map { (file.path, $0) } }

    func open() throws -> any TensorValues {
        let dataset = try hdf5 { try file.dataset(datasetPath) }
        if dtype == .other {
            throw CheckpointError(.unsupported, file: file.path, object: object,
                                  message: "element type \(dataset.elementType) is not a number type read here")
        }
        // A declared shape far beyond the stored bytes would have libhdf5 produce fill values for
        // hours: no real weight compresses a thousandfold, and none is stored as nothing at all.
        let stored = try hdf5 { try dataset.storedBytes }
        if dataset.count > 0 && stored == 0 {
            throw CheckpointError(.corrupt, file: file.path, object: object,
                                  message: "no values are stored for its declared shape \(dataset.shape)")
        }
        let unstored = try hdf5 { try dataset.unstoredBytes }
        if unstored > 16 << 20 {
            throw CheckpointError(.corrupt, file: file.path, object: object,
                                  message: "declares shape \(dataset.shape) (\(dataset.logicalBytes) bytes) but \(unstored) bytes of it are not stored (fill value only); Keras writes every value")
        }
        if dataset.logicalBytes > 1 << 30 && dataset.logicalBytes / 1024 > stored {
            throw CheckpointError(.corrupt, file: file.path, object: object,
                                  message: "declares shape \(dataset.shape) (\(dataset.logicalBytes) bytes) but stores only \(stored) bytes")
        }
        return HDF5Values(dataset: dataset)
    }
}

/// An opened dataset; libhdf5 converts Float and Double reads, and reads contiguous data with
/// `pread` on its own (see `HDF5.Dataset`).
private struct HDF5Values: TensorValues {
    let dataset: Dataset

    func read(_ slice: TensorSlice, into buffer: inout [Float]) throws {
        try hdf5 { try dataset.read(selection(slice), into: &buffer) }
    }

    func read(_ slice: TensorSlice, into buffer: inout [Double]) throws {
        try hdf5 { try dataset.read(selection(slice), into: &buffer) }
    }

    func readRaw16(_ slice: TensorSlice, into buffer: inout [UInt16]) throws {
        try hdf5 { try dataset.readRaw16(selection(slice), into: &buffer) }
    }

    func readRaw64(_ slice: TensorSlice, into buffer: inout [UInt64]) throws {
        try hdf5 { try dataset.readRaw64(selection(slice), into: &buffer) }
    }

    private func selection(_ slice: TensorSlice) -> Dataset.Selection {
        Dataset.Selection(start: slice.start, count: slice.count)
    }
}
