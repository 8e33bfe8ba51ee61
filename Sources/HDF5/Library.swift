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

    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        wd_silence_this_thread()
        return try body()
    }

    /// libhdf5's current error stack as lines, outermost first; clears it.
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
