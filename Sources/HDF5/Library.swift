internal import CHDF5
import Foundation

/// Serialises every libhdf5 call and keeps libhdf5 from printing.
///
/// Debian's libhdf5 is built thread-safe with one global lock, so parallel calls gain nothing;
/// one recursive lock here makes the sequence of calls and the error stack we read afterwards
/// belong to one caller. Automatic error printing is a per-thread setting in a thread-safe
/// build, so it is switched off on whichever thread enters.
enum Library {
    private static let lock = NSRecursiveLock()

    /// How deep the lock is held (it is recursive: a handle closed inside a locked section
    /// locks again). Only the outermost section starts and ends the crash guard's clock, so a
    /// nested section cannot hide a stalled call. Read and written under `lock`.
    nonisolated(unsafe) private static var depth = 0

    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        enter()
        defer { leave() }
        return try body()
    }

    /// The same, first recording which file and object the call reads, for the crash guard.
    static func locked<T>(_ file: String, _ object: String?, _ body: () throws -> T) rethrows -> T {
        try locked {
            setCrumb(file, object ?? "")
            return try body()
        }
    }

    // The crash guard's state (the clock, the breadcrumb) is static storage in wd_guard.h, one copy
    // per object file that calls it. A release build compiles each source file to its own object
    // and inlines `locked` into its callers, so every call into that state goes through these
    // non-inlinable functions: one object file, one copy, the one the watchdog and the signal
    // handler read. (Inlined, the watchdog never saw a call running and the crumb stayed empty.)
    /// Library-wide settings, made once before the first call. Filter plugins off: libhdf5 would
    /// otherwise load shared objects from HDF5_PLUGIN_PATH (or its default folder) to decode a
    /// dataset with a filter it lacks — code and files the user did not name. Such a dataset is
    /// refused as stored with an unavailable filter instead. h5py's LZF (filter 32000,
    /// `compression="lzf"`) is decoded by WeightDrift's own registration over liblzf
    /// (wd_lzf_filter.h), not by a plugin.
    private static let configured: Void = {
        _ = H5PLset_loading_state(0)
        _ = wd_register_lzf()
        // libhdf5 keeps freed memory on free lists of its own, by default up to 1 + 4 + 2 × 16 MiB
        // in all, which then stays with the process; small lists cost nothing measurable here.
        _ = H5set_free_list_limits(64 << 10, 16 << 10, 64 << 10, 16 << 10, 256 << 10, 64 << 10)
    }()

    @inline(never) private static func enter() {
        lock.lock()
        _ = configured
        depth += 1
        if depth == 1 { wd_call_begin() }
        wd_silence_this_thread()
    }

    @inline(never) private static func leave() {
        depth -= 1
        if depth == 0 { wd_call_end() }
        lock.unlock()
    }

    @inline(never) private static func setCrumb(_ file: String, _ object: String) {
        wd_set_crumb(file, object)
    }

    /// libhdf5's current error stack as lines, innermost (most specific) first; clears it.
    static func takeErrorStack() -> [String] {
        final class Lines { var items: [String] = [] }
        let lines = Lines()
        let walker: H5E_walk2_t = { _, entry, context in
            guard let entry, let context else { return 0 }
            let lines = Unmanaged<Lines>.fromOpaque(context).takeUnretainedValue()
            let function = entry.pointee.func_name.map { String(cString: $0) } ?? "?"
            let desc = entry.pointee.desc.map { String(cString: $0) } ?? ""
            let major = Library.message(entry.pointee.maj_num)
            let minor = Library.message(entry.pointee.min_num)
            lines.items.append("\(function)(): \(desc) (\(major) / \(minor))")
            return 0
        }
        let context = Unmanaged.passUnretained(lines).toOpaque()
        _ = H5Ewalk2(wd_H5E_DEFAULT(), H5E_WALK_UPWARD, walker, context)
        _ = H5Eclear2(wd_H5E_DEFAULT())
        return withExtendedLifetime(lines) { lines.items }
    }

    private static func message(_ id: hid_t) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = H5Eget_msg(id, nil, &buffer, buffer.count)
        guard n > 0 else { return "?" }
        return String(decoding: buffer.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The process's memory.
public enum ProcessMemory {
    /// Gives memory freed so far back to the system (glibc keeps it in per-thread arenas
    /// otherwise): for a tool about to build a large output after freeing what produced it.
    public static func releaseFreed() {
        _ = wd_release_freed_memory()
    }
}

/// Turns a crash or a hang inside libhdf5 into one line naming the file and object being read,
/// and exit code 2 (see wd_guard.h). For the command-line tool: it ends the process.
public enum CrashGuard {
    /// Installs the fatal-signal handlers and starts a watchdog that ends the process when one
    /// libhdf5 call runs longer than `callLimit` seconds.
    /// (Never inlined, like `Library.enter`: the handlers and the watchdog must use the guard
    /// state of the object file that `Library.locked` writes.)
    /// `reportFD` is where its one line goes (the tool's own stderr).
    @inline(never) public static func install(callLimit: Double, reportFD: Int32 = 2) {
        wd_set_report_fd(reportFD)
        _ = wd_install_crash_guard()
        let limit = Int64(callLimit * 1000)
        let watchdog = Thread {
            while true {
                Thread.sleep(forTimeInterval: 0.2)
                check(limit: limit, seconds: Int(callLimit))
            }
        }
        watchdog.stackSize = 1 << 18
        watchdog.start()
    }
}

extension CrashGuard {
    @inline(never) static func check(limit: Int64, seconds: Int) {
        if wd_call_stalled(limit) != 0 {
            wd_die("libhdf5 did not finish reading this in \(seconds) s (the file is damaged)")
        }
    }
}

/// One open libhdf5 id, closed exactly once when the last reference goes.
final class Handle: @unchecked Sendable {
    enum Kind { case file, group, dataset, attribute, dataspace, datatype, propertyList }
    let id: hid_t
    let kind: Kind

    init(_ id: hid_t, _ kind: Kind) {
        self.id = id
        self.kind = kind
    }

    deinit {
        Library.locked {
            switch kind {
            case .file: _ = H5Fclose(id)
            case .group: _ = H5Gclose(id)
            case .dataset: _ = H5Dclose(id)
            case .attribute: _ = H5Aclose(id)
            case .dataspace: _ = H5Sclose(id)
            case .datatype: _ = H5Tclose(id)
            case .propertyList: _ = H5Pclose(id)
            }
            _ = H5Eclear2(wd_H5E_DEFAULT())
        }
    }
}
