/// A file read by byte ranges with `pread` into typed buffers: for stores that are raw bytes at
/// known offsets (safetensors), so they need no unsafe code of their own. Thread-safe: `pread`
/// keeps no file position.
public final class ByteFile: @unchecked Sendable {
    public let path: String
    private let reader: DirectReader

    /// Opens read-only (never waiting on a FIFO); nil when it cannot be opened.
    public init?(path: String) {
        guard let reader = DirectReader(path: path) else { return nil }
        self.path = path
        self.reader = reader
    }

    /// Fills `buffer` with `count` elements' bytes from `offset`, as stored (no byte swapping);
    /// false when the file ends first or the read fails. Inlinable, so that the caller's element
    /// type is specialised: an unspecialised generic resize costs more than the read. Every
    /// element is overwritten (or the read fails), so a reused buffer of the right size is not
    /// cleared first: clearing it cost up to a tenth of a safetensors compare's CPU time.
    @inlinable
    public func read<T: BitwiseCopyable & Numeric>(_ count: Int, at offset: UInt64, into buffer: inout [T]) -> Bool {
        if buffer.count != count {
            buffer.removeAll(keepingCapacity: true)
            buffer.append(contentsOf: repeatElement(0, count: count))
        }
        return buffer.withUnsafeMutableBytes { fill($0, at: offset) }
    }

    @usableFromInline
    func fill(_ bytes: UnsafeMutableRawBufferPointer, at offset: UInt64) -> Bool {
        reader.read(into: bytes, at: offset)
    }
}
