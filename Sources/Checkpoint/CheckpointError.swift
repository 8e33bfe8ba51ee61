import HDF5

/// Why a checkpoint could not be read: the file, the object inside it, and what went wrong,
/// in one line. The command line maps every one of these to exit code 2.
public struct CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// No file or folder at the path.
        case notFound
        /// The path exists but cannot be opened or read (permissions, a device, …).
        case cannotOpen
        /// Empty, or not HDF5, a zip, safetensors or a JSON shard index at all.
        case notACheckpoint
        /// A readable container (HDF5, zip, JSON) that is not laid out as a Keras checkpoint.
        case notKeras
        /// Structure the format promises is missing or broken (truncated file, bad header,
        /// a listed dataset that does not exist).
        case corrupt
        /// Valid, but uses something not read here (a compression filter, an element type).
        case unsupported
    }

    public let code: Code
    public let file: String
    /// The object inside the file (HDF5 path, zip member, shard, safetensors tensor), when there is one.
    public let object: String?
    public let message: String
    /// The HDF5 error underneath, when libhdf5 reported it (HDF5 layouts only).
    let hdf5: HDF5Error?

    public init(_ code: Code, file: String, object: String? = nil, message: String) {
        self.init(code, file: file, object: object, message: message, hdf5: nil)
    }

    init(_ code: Code, file: String, object: String? = nil, message: String, hdf5: HDF5Error?) {
        self.code = code
        self.file = file
        self.object = object
        self.message = message
        self.hdf5 = hdf5
    }

    /// Wraps a libhdf5 failure, keeping its file and object.
    init(_ error: HDF5Error, code: Code? = nil) {
        let mapped: Code = code ?? {
            switch error.code {
            case .cannotOpen: .notACheckpoint
            case .notFound, .cannotRead: .corrupt
            case .unsupported: .unsupported
            }
        }()
        self.init(mapped, file: error.file, object: error.object, message: error.message, hdf5: error)
    }

    public var description: String {
        var text = file
        if let object { text += ": \(object)" }
        text += ": \(message)"
        if let reason = hdf5?.reason { text += " (\(reason))" }
        return text
    }
}

/// Runs `body`, turning libhdf5 errors into checkpoint errors.
func hdf5<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as HDF5Error {
        throw CheckpointError(error)
    }
}

/// For a command-line tool: turns a crash or hang inside libhdf5 on a damaged file into one line
/// on stderr naming the file and object, and exit code 2. Ends the process; a library embedding
/// WeightDrift should not call it.
public func installReaderCrashGuard(callLimitSeconds: Double, reportFD: Int32 = 2) {
    CrashGuard.install(callLimit: callLimitSeconds, reportFD: reportFD)
}

/// For a command-line tool about to build a large output once the checkpoints it read are closed:
/// gives the memory freed so far (libhdf5's metadata, parsed configs) back to the system.
public func releaseFreedMemory() {
    ProcessMemory.releaseFreed()
}
