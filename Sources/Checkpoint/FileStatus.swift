import Foundation

/// What `stat(2)` says of a path, following symbolic links. Used instead of Foundation's
/// `FileManager.attributesOfItem`, which also looks up the owner's and group's names (reading
/// `/etc/passwd` and `/etc/group` and asking nscd) — files nobody named.
public struct FileStatus: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case regular = "regular file", directory, symbolicLink = "symbolic link", fifo = "FIFO",
             characterDevice = "character device", blockDevice = "block device", socket, unknown = "unknown type"
    }

    public let kind: Kind
    public let size: UInt64

    /// The status of what `path` leads to; nil when nothing is there (or it cannot be reached).
    public init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.init(info)
    }

    /// The status of `path` itself (a symbolic link is not followed).
    public init?(linkAt path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        self.init(info)
    }

    private init(_ info: stat) {
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symbolicLink
        case S_IFIFO: kind = .fifo
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        case S_IFSOCK: kind = .socket
        default: kind = .unknown
        }
        size = UInt64(max(0, info.st_size))
    }

    public var isRegular: Bool { kind == .regular }
}
