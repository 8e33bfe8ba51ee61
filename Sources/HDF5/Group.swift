internal import CHDF5
import Foundation

/// An open HDF5 group: its members and its attributes.
public struct Group: @unchecked Sendable {
    public let file: File
    /// Absolute path in the file.
    public let path: String
    let handle: Handle

    /// One member link of a group.
    public struct Member: Sendable, Equatable {
        public let name: String
        public let kind: ObjectKind
        /// Absolute path of the member.
        public let path: String
        /// Where the object's header is in the file: the same object reached by two links (a hard
        /// link, a soft link) has the same address. 0 for `.other`.
        public let address: UInt64
    }

    /// More links than this in one group are refused before they are listed: Keras writes one per
    /// layer or variable, and listing a million takes minutes.
    public static let memberLimit = 100_000

    /// The members, in libhdf5's name order. Soft links are followed (to an object in this file);
    /// an external link, a dangling soft link or a user-defined link is refused, never dropped.
    public func members() throws -> [Member] {
        try Library.locked(file.path, path) {
            var info = H5G_info_t()
            guard H5Gget_info(handle.id, &info) >= 0 else {
                throw error("cannot list group members")
            }
            guard info.nlinks <= UInt64(Group.memberLimit) else {
                throw HDF5Error(.unsupported, file: file.path, object: path,
                                message: "group has \(info.nlinks) links, more than the \(Group.memberLimit) read")
            }
            // One pass over the links in name order (asking for member i by index costs a walk of
            // the group's name index each time, quadratic in the members).
            final class Links {
                var names: [String] = []
                var types: [H5L_type_t] = []
                var tooLong = false
            }
            let links = Links()
            links.names.reserveCapacity(Int(info.nlinks))
            var position: hsize_t = 0
            let status = H5Literate(handle.id, H5_INDEX_NAME, H5_ITER_INC, &position, { _, name, linkInfo, context in
                guard let name, let linkInfo, let context else { return -1 }
                let links = Unmanaged<Links>.fromOpaque(context).takeUnretainedValue()
                let length = strnlen(name, 1 << 16)
                if length >= 1 << 16 {
                    links.tooLong = true
                    return -1
                }
                links.names.append(decodeCString(UnsafeBufferPointer(start: name, count: length)))
                links.types.append(linkInfo.pointee.type)
                return 0
            }, Unmanaged.passUnretained(links).toOpaque())
            guard status >= 0, !links.tooLong, links.names.count == Int(info.nlinks) else {
                throw error("cannot read a member name")
            }
            var result: [Member] = []
            result.reserveCapacity(links.names.count)
            for (name, type) in zip(links.names, links.types) {
                let childPath = path == "/" ? "/" + name : path + "/" + name
                let (kind, address) = try kindOfMember(name, linkType: type, path: childPath)
                result.append(Member(name: name, kind: kind, path: childPath, address: address))
            }
            return result
        }
    }

    private func kindOfMember(_ name: String, linkType: H5L_type_t, path childPath: String) throws -> (ObjectKind, UInt64) {
        switch linkType {
        case H5L_TYPE_HARD, H5L_TYPE_SOFT: break
        case H5L_TYPE_EXTERNAL:
            _ = Library.takeErrorStack()
            throw HDF5Error(.unsupported, file: file.path, object: childPath,
                            message: "external link to another file; refusing to read outside the named file")
        default:
            _ = Library.takeErrorStack()
            throw HDF5Error(.unsupported, file: file.path, object: childPath, message: "user-defined link type; not read")
        }
        // The object's type from its header, without opening it (a soft link is followed, inside this file).
        var info = H5O_info_t()
        guard H5Oget_info_by_name2(handle.id, name, &info, UInt32(H5O_INFO_BASIC), file.linkAccess.id) >= 0 else {
            let stack = Library.takeErrorStack()
            if linkType == H5L_TYPE_SOFT {
                throw HDF5Error(.cannotRead, file: file.path, object: childPath,
                                message: "soft link to an object that is not in the file (or a soft-link loop)", stack: stack)
            }
            throw HDF5Error(.cannotRead, file: file.path, object: childPath, message: "cannot read the object header", stack: stack)
        }
        switch info.type {
        case H5O_TYPE_GROUP: return (.group, UInt64(info.addr))
        case H5O_TYPE_DATASET: return (.dataset, UInt64(info.addr))
        default: return (.other, UInt64(info.addr))
        }
    }

    /// Where the group's own header is in the file (see `Member.address`).
    public var address: UInt64 {
        get throws {
            try Library.locked(file.path, path) {
                var info = H5O_info_t()
                guard H5Oget_info2(handle.id, &info, UInt32(H5O_INFO_BASIC)) >= 0 else { throw error("cannot read the object header") }
                return UInt64(info.addr)
            }
        }
    }

    /// The dataset at a path relative to this group (opened from here: libhdf5 does not walk the
    /// path from the root again).
    public func dataset(_ relativePath: String) throws -> Dataset {
        let fullPath = path == "/" ? "/" + relativePath : path + "/" + relativePath
        return try Library.locked(file.path, fullPath) {
            let id = H5Dopen2(handle.id, relativePath, file.datasetAccess.id)
            guard id >= 0 else {
                let stack = Library.takeErrorStack()
                try file.requireLink(fullPath)  // says which component is missing or refused
                throw HDF5Error(.notFound, file: file.path, object: fullPath, message: "cannot open dataset", stack: stack)
            }
            return try Dataset(file: file, path: fullPath, handle: Handle(id, .dataset))
        }
    }

    /// Whether an attribute of that name exists.
    public func hasAttribute(_ name: String) -> Bool {
        Library.locked(file.path, path + "@" + name) { attributeExists(objectID: handle.id, name: name) }
    }

    /// The attribute's value, or nil when the group has no attribute of that name.
    public func attribute(_ name: String) throws -> AttributeValue? {
        try Library.locked(file.path, path + "@" + name) { try readAttribute(objectID: handle.id, name: name, file: file.path, object: path) }
    }

    private func error(_ message: String) -> HDF5Error {
        HDF5Error(.cannotRead, file: file.path, object: path, message: message, stack: Library.takeErrorStack())
    }
}

func decodeCString(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { decodeCString($0) }
}

/// The bytes up to the first NUL, as UTF-8 (invalid sequences replaced).
func decodeCString(_ buffer: UnsafeBufferPointer<CChar>) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
