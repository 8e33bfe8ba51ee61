internal import CHDF5
import Foundation

/// An HDF5 file opened read-only. Groups and datasets opened from it keep it open.
public final class File: @unchecked Sendable {
    /// The path as the caller gave it; used in every error.
    public let path: String
    let handle: Handle
    /// Where the HDF5 image starts in the OS file and how long it is (a zip member), or (0, file size).
    let image: (offset: UInt64, length: UInt64)
    /// A second, plain descriptor for reading contiguous raw data without libhdf5 (see `DirectReader`).
    let direct: DirectReader?

    private init(path: String, openedPath: String, handle: Handle, image: (offset: UInt64, length: UInt64)) {
        self.path = path
        self.handle = handle
        self.image = image
        direct = DirectReader(path: openedPath)
    }

    /// Opens `path` read-only. With `byteRange`, only those bytes of the file are the HDF5 file
    /// (a stored member of a zip archive), read in place.
    /// `displayPath` names the file in errors when `path` is a temporary copy.
    public static func open(_ path: String, byteRange: (offset: UInt64, length: UInt64)? = nil,
                            displayPath: String? = nil) throws -> File {
        let shownPath = displayPath ?? path
        return try Library.locked {
            let fapl = H5Pcreate(wd_H5P_FILE_ACCESS())
            guard fapl >= 0 else {
                throw HDF5Error(.cannotOpen, file: shownPath, object: nil, message: "cannot create a file access list",
                                stack: Library.takeErrorStack())
            }
            defer { _ = H5Pclose(fapl) }
            if let byteRange {
                guard wd_range_set_fapl(fapl, haddr_t(byteRange.offset), haddr_t(byteRange.length)) >= 0 else {
                    throw HDF5Error(.cannotOpen, file: shownPath, object: nil, message: "cannot set up the byte-range driver",
                                    stack: Library.takeErrorStack())
                }
            }
            let id = H5Fopen(path, wd_H5F_ACC_RDONLY(), fapl)
            guard id >= 0 else {
                throw HDF5Error(.cannotOpen, file: shownPath, object: nil, message: "not a readable HDF5 file",
                                stack: Library.takeErrorStack())
            }
            let length = byteRange?.length ?? (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64) ?? 0
            return File(path: shownPath, openedPath: path, handle: Handle(id, .file), image: (byteRange?.offset ?? 0, length ?? 0))
        }
    }

    /// The root group "/".
    public func root() throws -> Group { try group("/") }

    /// The group at an absolute path.
    public func group(_ objectPath: String) throws -> Group {
        try Library.locked {
            try requireLink(objectPath)
            let id = H5Gopen2(handle.id, objectPath, wd_H5P_DEFAULT())
            guard id >= 0 else {
                throw HDF5Error(.notFound, file: path, object: objectPath, message: "cannot open group",
                                stack: Library.takeErrorStack())
            }
            return Group(file: self, path: objectPath, handle: Handle(id, .group))
        }
    }

    /// The dataset at an absolute path.
    public func dataset(_ objectPath: String) throws -> Dataset {
        try Library.locked {
            try requireLink(objectPath)
            let id = H5Dopen2(handle.id, objectPath, wd_H5P_DEFAULT())
            guard id >= 0 else {
                throw HDF5Error(.notFound, file: path, object: objectPath, message: "cannot open dataset",
                                stack: Library.takeErrorStack())
            }
            return try Dataset(file: self, path: objectPath, handle: Handle(id, .dataset))
        }
    }

    /// What kind of object is at an absolute path, or nil when nothing is there.
    public func kind(of objectPath: String) -> ObjectKind? {
        Library.locked {
            guard (try? requireLink(objectPath)) != nil else { return nil }
            let id = H5Oopen(handle.id, objectPath, wd_H5P_DEFAULT())
            guard id >= 0 else {
                _ = Library.takeErrorStack()
                return nil
            }
            defer { _ = H5Oclose(id) }
            switch H5Iget_type(id) {
            case H5I_GROUP: return .group
            case H5I_DATASET: return .dataset
            default: return .other
            }
        }
    }

    /// Checks each component of the path, so a missing intermediate group is "not found"
    /// rather than an error from deep inside libhdf5.
    private func requireLink(_ objectPath: String) throws {
        guard objectPath.hasPrefix("/") else {
            throw HDF5Error(.notFound, file: path, object: objectPath, message: "paths must be absolute")
        }
        var prefix = ""
        for component in objectPath.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            let exists = H5Lexists(handle.id, prefix, wd_H5P_DEFAULT())
            if exists <= 0 {
                let stack = Library.takeErrorStack()
                throw HDF5Error(exists < 0 ? .cannotRead : .notFound, file: path, object: prefix,
                                message: exists < 0 ? "cannot look up link" : "no such object", stack: stack)
            }
            // Only hard links are followed: a soft link can loop and an external link would
            // open a file the user did not name.
            var info = H5L_info_t()
            guard H5Lget_info(handle.id, prefix, &info, wd_H5P_DEFAULT()) >= 0, info.type == H5L_TYPE_HARD else {
                throw HDF5Error(.unsupported, file: path, object: prefix, message: "not a hard link (soft and external links are not followed)",
                                stack: Library.takeErrorStack())
            }
        }
    }
}

public enum ObjectKind: Sendable, Equatable {
    case group, dataset, other
}
