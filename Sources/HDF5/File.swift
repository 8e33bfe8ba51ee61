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
    /// Access lists that refuse external links (they would open a file the user did not name).
    /// Soft links stay inside the file and libhdf5 stops after 16 in a row, so a loop ends.
    let linkAccess: Handle
    let groupAccess: Handle
    let datasetAccess: Handle

    private init(path: String, openedPath: String, handle: Handle, image: (offset: UInt64, length: UInt64)) {
        self.path = path
        self.handle = handle
        self.image = image
        direct = DirectReader(path: openedPath)
        // Only what fits in memory with room to spare: read ahead, a larger image would be evicted
        // before it is used and read twice.
        if image.length <= ProcessInfo.processInfo.physicalMemory / 4 {
            direct?.prefetch(offset: image.offset, length: image.length)
        }
        func sameFileOnly(_ listClass: hid_t) -> Handle {
            let id = H5Pcreate(listClass)
            _ = wd_refuse_external_links(id)
            return Handle(id, .propertyList)
        }
        linkAccess = sameFileOnly(wd_H5P_LINK_ACCESS())
        groupAccess = sameFileOnly(wd_H5P_GROUP_ACCESS())
        datasetAccess = sameFileOnly(wd_H5P_DATASET_ACCESS())
    }

    /// Opens `path` read-only. With `byteRange`, only those bytes of the file are the HDF5 file
    /// (a stored member of a zip archive), read in place.
    /// `displayPath` names the file in errors when `path` is a temporary copy.
    public static func open(_ path: String, byteRange: (offset: UInt64, length: UInt64)? = nil,
                            displayPath: String? = nil) throws -> File {
        let shownPath = displayPath ?? path
        return try Library.locked(shownPath, nil) {
            let fapl = H5Pcreate(wd_H5P_FILE_ACCESS())
            guard fapl >= 0 else {
                throw HDF5Error(.cannotOpen, file: shownPath, object: nil, message: "cannot create a file access list",
                                stack: Library.takeErrorStack())
            }
            defer { _ = H5Pclose(fapl) }
            // Every file goes through the byte-range driver (the whole file when no range is
            // given): it bounds what a damaged size field can make libhdf5 read (see wd_range_vfd.h).
            // (The size of the file, not of a symbolic link naming it.)
            // (stat, not FileManager's attributes, which read /etc/passwd and /etc/group for the owner's name.)
            var info = stat()
            let fileSize = stat(path, &info) == 0 ? UInt64(max(0, info.st_size)) : nil
            if let range = byteRange ?? fileSize.map({ (offset: UInt64(0), length: $0) }) {
                guard wd_range_set_fapl(fapl, haddr_t(range.offset), haddr_t(range.length)) >= 0 else {
                    throw HDF5Error(.cannotOpen, file: shownPath, object: nil, message: "cannot set up the byte-range driver",
                                    stack: Library.takeErrorStack())
                }
            }
            // libhdf5 keeps the objects it has read (headers, B-tree nodes, heaps) in a metadata
            // cache of up to 32 MiB a file, and in memory that is several times their size on disk:
            // at 1,600 layers a compare of two `.weights.h5` files peaked at 95 MiB, 52 MiB with a
            // 1 MiB cache, and two `.h5` files at 62 MiB with 1 MiB, 51 MiB with 256 KiB — no
            // more CPU time on the benchmark pairs either way (what is evicted is re-read from the
            // page cache, and listing and streaming each read an object's metadata about once).
            _ = wd_limit_metadata_cache(fapl, 256 << 10, 256 << 10)
            let id = H5Fopen(path, wd_H5F_ACC_RDONLY(), fapl)
            guard id >= 0 else {
                throw HDF5Error(.cannotOpen, file: shownPath, object: nil, message: "not a readable HDF5 file",
                                stack: Library.takeErrorStack())
            }
            let length = byteRange?.length ?? fileSize ?? 0
            return File(path: shownPath, openedPath: path, handle: Handle(id, .file), image: (byteRange?.offset ?? 0, length))
        }
    }

    /// The root group "/".
    public func root() throws -> Group { try group("/") }

    /// The group at an absolute path.
    public func group(_ objectPath: String) throws -> Group {
        try Library.locked(path, objectPath) {
            let id = H5Gopen2(handle.id, objectPath, groupAccess.id)
            guard id >= 0 else {
                let stack = Library.takeErrorStack()
                try requireLink(objectPath)  // says which component is missing or not a hard link
                throw HDF5Error(.notFound, file: path, object: objectPath, message: "cannot open group", stack: stack)
            }
            return Group(file: self, path: objectPath, handle: Handle(id, .group))
        }
    }

    /// The group at an absolute path, or nil when there is none (or it is not a group).
    public func groupIfPresent(_ objectPath: String) -> Group? {
        Library.locked(path, objectPath) {
            let id = H5Gopen2(handle.id, objectPath, groupAccess.id)
            guard id >= 0 else {
                _ = Library.takeErrorStack()
                return nil
            }
            return Group(file: self, path: objectPath, handle: Handle(id, .group))
        }
    }

    /// The dataset at an absolute path.
    public func dataset(_ objectPath: String) throws -> Dataset {
        try Library.locked(path, objectPath) {
            let id = H5Dopen2(handle.id, objectPath, datasetAccess.id)
            guard id >= 0 else {
                let stack = Library.takeErrorStack()
                try requireLink(objectPath)  // says which component is missing or not a hard link
                throw HDF5Error(.notFound, file: path, object: objectPath, message: "cannot open dataset", stack: stack)
            }
            return try Dataset(file: self, path: objectPath, handle: Handle(id, .dataset))
        }
    }

    /// What kind of object is at an absolute path, or nil when nothing is there.
    public func kind(of objectPath: String) -> ObjectKind? {
        Library.locked(path, objectPath) {
            guard objectPath.hasPrefix("/") else { return nil }
            let id = H5Oopen(handle.id, objectPath, linkAccess.id)
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

    /// Checks each component of the path, after an open failed, so the error names the missing
    /// component, or the link that is not a hard one, rather than libhdf5's innermost complaint.
    func requireLink(_ objectPath: String) throws {
        guard objectPath.hasPrefix("/") else {
            throw HDF5Error(.notFound, file: path, object: objectPath, message: "paths must be absolute")
        }
        var prefix = ""
        for component in objectPath.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            var info = H5L_info_t()
            if H5Lget_info(handle.id, prefix, &info, linkAccess.id) >= 0, info.type == H5L_TYPE_EXTERNAL {
                _ = Library.takeErrorStack()
                throw HDF5Error(.unsupported, file: path, object: prefix,
                                message: "external link to another file; not followed")
            }
            let exists = H5Lexists(handle.id, prefix, linkAccess.id)
            if exists <= 0 {
                let stack = Library.takeErrorStack()
                throw HDF5Error(exists < 0 ? .cannotRead : .notFound, file: path, object: prefix,
                                message: exists < 0 ? "cannot look up link (a soft-link loop?)" : "no such object", stack: stack)
            }
        }
    }
}

public enum ObjectKind: Sendable, Equatable {
    case group, dataset, other
}
