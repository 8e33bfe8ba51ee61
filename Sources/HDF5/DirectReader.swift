import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads raw bytes of the file with `pread`, outside libhdf5 and its global lock.
///
/// A contiguous, unfiltered dataset whose stored type is the machine's own (float32, float64, a
/// little-endian 2-byte type) is one run of bytes at the offset libhdf5 reports; reading it
/// straight into the caller's buffer skips libhdf5's per-call selection and conversion machinery
/// and lets two threads read at once. Everything else goes through libhdf5.
final class DirectReader: @unchecked Sendable {
    private let fd: Int32

    init?(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // never wait on a FIFO
        guard fd >= 0 else { return nil }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Asks the kernel to start reading `length` bytes at `offset` into the page cache, on a
    /// background thread (the call blocks while it queues the reads): from a cold cache the
    /// weights, streamed largest first and not in file order, then come from memory. A hint
    /// only; the descriptor stays open as long as the thread needs it.
    func prefetch(offset: UInt64, length: UInt64) {
        Thread.detachNewThread { [self] in
            _ = posix_fadvise(fd, off_t(offset), off_t(length), POSIX_FADV_WILLNEED)
        }
    }

    /// Fills `buffer` with the bytes at `offset`; false when the file ends first or a read fails.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) -> Bool {
        guard var pointer = buffer.baseAddress else { return buffer.isEmpty }
        var remaining = buffer.count
        var position = off_t(offset)
        while remaining > 0 {
            let got = pread(fd, pointer, remaining, position)
            if got < 0 {
                if errno == EINTR { continue }
                return false
            }
            if got == 0 { return false }
            pointer += got
            remaining -= got
            position += off_t(got)
        }
        return true
    }
}
