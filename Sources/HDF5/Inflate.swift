internal import CHDF5
public import Foundation

/// Streams a raw DEFLATE byte range (a compressed zip member) through zlib in bounded memory.
public enum Inflate {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Inflates `length` compressed bytes at `offset` of `path`, handing the output to `sink` in
    /// pieces of at most 1 MiB. Stops with an error past `limit` output bytes (a decompression
    /// bomb, or a size the archive misdeclared). Returns the output size and its CRC-32.
    public static func member(path: String, offset: UInt64, length: UInt64, limit: UInt64,
                              sink: (Data) throws -> Void) throws -> (size: UInt64, crc32: UInt32) {
        guard let input = FileHandle(forReadingAtPath: path) else { throw Failure(description: "cannot open for reading") }
        defer { try? input.close() }
        try input.seek(toOffset: offset)
        var stream = z_stream()
        guard wd_inflateInit2(&stream, -MAX_WBITS) == Z_OK else { throw Failure(description: "cannot start zlib") }
        defer { inflateEnd(&stream) }
        var remaining = length
        var produced: UInt64 = 0
        var crc = crc32(0, nil, 0)
        var output = [UInt8](repeating: 0, count: 1 << 20)
        var finished = false
        while !finished {
            let want = Int(min(remaining, 1 << 20))
            let chunk = want > 0 ? (try input.read(upToCount: want) ?? Data()) : Data()
            if want > 0 && chunk.isEmpty { throw Failure(description: "compressed data ends early (truncated archive?)") }
            remaining -= UInt64(chunk.count)
            var input = [UInt8](chunk)
            let status: Int32 = try input.withUnsafeMutableBufferPointer { inBuffer -> Int32 in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                var status = Z_OK
                repeat {
                    let out = output.count
                    status = output.withUnsafeMutableBufferPointer { outBuffer -> Int32 in
                        stream.next_out = outBuffer.baseAddress
                        stream.avail_out = uInt(out)
                        return inflate(&stream, Z_NO_FLUSH)
                    }
                    let got = out - Int(stream.avail_out)
                    if got > 0 {
                        produced += UInt64(got)
                        guard produced <= limit else { throw Failure(description: "inflates past its declared size of \(limit) bytes") }
                        crc = output.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt(got)) }
                        try sink(Data(output[0..<got]))
                    }
                    if status == Z_STREAM_END { return status }
                    guard status == Z_OK || status == Z_BUF_ERROR else { return status }
                } while stream.avail_out == 0
                return status
            }
            switch status {
            case Z_STREAM_END: finished = true
            case Z_OK, Z_BUF_ERROR:
                if remaining == 0 && stream.avail_in == 0 && chunk.isEmpty { throw Failure(description: "compressed data ends early") }
            default: throw Failure(description: "corrupt compressed data (zlib error \(status))")
            }
        }
        return (produced, UInt32(crc))
    }
}
