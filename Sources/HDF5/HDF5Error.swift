import Foundation
/// A failure reported by libhdf5 (or by this layer's own checks), with the file and the object
/// named, and libhdf5's error stack captured instead of printed.
public struct HDF5Error: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The file could not be opened as HDF5 (missing, unreadable, not HDF5, truncated header).
        case cannotOpen
        /// A group, dataset or attribute that was asked for is not there.
        case notFound
        /// libhdf5 failed while reading values or metadata (corrupt or truncated data).
        case cannotRead
        /// The object has a type or shape this layer does not decode.
        case unsupported
    }

    public let code: Code
    /// The file as the caller named it.
    public let file: String
    /// The HDF5 path of the object, or nil when the failure concerns the whole file.
    public let object: String?
    /// What this layer was doing, in a few words.
    public let message: String
    /// libhdf5's error stack, innermost last: "function: description (major / minor)".
    public let stack: [String]

    public init(_ code: Code, file: String, object: String?, message: String, stack: [String] = []) {
        self.code = code
        self.file = file
        self.object = object
        self.message = message
        self.stack = stack
    }

    /// One line: file, object, what failed and the real cause.
    public var description: String {
        var text = file
        if let object { text += ": \(object)" }
        text += ": \(message)"
        if let reason { text += " (\(reason))" }
        return text
    }

    /// The cause, from libhdf5's error stack: a damaged checksum or compressed stream named as
    /// such, else libhdf5's innermost (most specific) entry. The outermost entry ("H5Dread():
    /// can't read data (Dataset / Read failed)") says only which call failed.
    public var reason: String? {
        let known: [(String, String)] = [
            ("fletcher32", "fletcher32 checksum mismatch: the stored data is corrupt"),
            ("inflate()", "corrupt deflate data: the compressed chunk does not decompress"),
            ("checksum", "metadata checksum mismatch: the file is damaged"),
        ]
        // WeightDrift's own LZF decoder says why (wd_lzf_filter.h): "wd_lzf_filter(): lzf: WHY (…)".
        if let entry = stack.first(where: { $0.contains("wd_lzf_filter()") }), let why = entry.range(of: "lzf: ") {
            let text = entry[why.upperBound...]
            return "corrupt lzf data: " + (text.range(of: " (").map { String(text[..<$0.lowerBound]) } ?? String(text))
        }
        for (needle, cause) in known where stack.contains(where: { $0.lowercased().contains(needle) }) {
            return cause
        }
        return stack.first.map { "libhdf5: \($0)" }
    }
}
