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

    /// Asks the kernel to read `length` bytes at `offset` into the page cache, front to back, on a
    /// background thread: from a cold cache the metadata libhdf5 reads while listing (spread over
    /// the whole file) and then the weights come from memory, the disk streaming meanwhile. One
    /// `POSIX_FADV_WILLNEED` per 8 MiB: Linux reads at most the device's readahead size (here
    /// 8 MiB) per call, so one call for the whole range read only its first 8 MiB; each call
    /// queues its reads and blocks only while the device's queue is full. A hint only; the
    /// descriptor stays open as long as the thread needs it.
    func prefetch(offset: UInt64, length: UInt64) {
        Thread.detachNewThread { [self] in
            let step: UInt64 = 8 << 20
            var at = offset
            while at < offset + length {
                let n = min(step, offset + length - at)
                guard posix_fadvise(fd, off_t(at), off_t(n), POSIX_FADV_WILLNEED) == 0 else { return }
                at += n
            }
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
