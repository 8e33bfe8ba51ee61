internal import CHDF5
import Foundation

/// The decoded value of an attribute. Strings of every HDF5 flavour (fixed-length NUL-padded
/// or variable-length, ASCII or UTF-8, scalar or 1-D) become `strings`; numbers are widened.
public enum AttributeValue: Sendable, Equatable {
    case strings([String])
    case integers([Int64])
    case floats([Double])
    /// A type this layer does not decode (compound, enum, reference, …), by class name.
    case other(String)

    /// The strings, or an empty list for a 0-element numeric attribute (Keras writes an empty
    /// name list as a 0-element float64 array). nil for any other value.
    public var stringList: [String]? {
        switch self {
        case .strings(let items): items
        case .integers(let items) where items.isEmpty: []
        case .floats(let items) where items.isEmpty: []
        default: nil
        }
    }

    /// The single string of a scalar (or 1-element) string attribute.
    public var string: String? {
        if case .strings(let items) = self, items.count == 1 { return items[0] }
        return nil
    }
}

/// Attribute data larger than this is refused, before anything is allocated: Keras splits name
/// lists at 64 KiB, and its largest attribute, the model config, is one variable-length string.
let attributeByteLimit = 64 << 20
/// Variable-length strings together larger than this are refused (checked after libhdf5 reads
/// them, before they are copied): the largest Keras model configs are a few MiB.
let stringByteLimit = 32 << 20

func attributeExists(objectID: hid_t, name: String) -> Bool {
    let exists = H5Aexists(objectID, name)
    if exists < 0 { _ = Library.takeErrorStack() }
    return exists > 0
}

func readAttribute(objectID: hid_t, name: String, file: String, object: String) throws -> AttributeValue? {
    guard attributeExists(objectID: objectID, name: name) else { return nil }
    let where_ = object == "/" ? "/@\(name)" : "\(object)@\(name)"
    func failure(_ message: String, _ code: HDF5Error.Code = .cannotRead) -> HDF5Error {
        HDF5Error(code, file: file, object: where_, message: message, stack: Library.takeErrorStack())
    }
    let aid = H5Aopen(objectID, name, wd_H5P_DEFAULT())
    guard aid >= 0 else { throw failure("cannot open attribute") }
    let attribute = Handle(aid, .attribute)
    let sid = H5Aget_space(attribute.id)
    guard sid >= 0 else { throw failure("cannot read attribute dataspace") }
    let space = Handle(sid, .dataspace)
    let points = H5Sget_simple_extent_npoints(space.id)
    guard points >= 0 else { throw failure("cannot read attribute dataspace") }
    let count = Int(points)
    // Each element takes at least 8 bytes in memory (a number, or a string's pointer): a damaged
    // dataspace must not make us allocate gigabytes.
    guard count <= attributeByteLimit / 8 else { throw failure("attribute declares \(count) elements", .unsupported) }
    let tid = H5Aget_type(attribute.id)
    guard tid >= 0 else { throw failure("cannot read attribute type") }
    let fileType = Handle(tid, .datatype)

    switch H5Tget_class(fileType.id) {
    case H5T_STRING:
        return .strings(try readStrings(attribute: attribute, space: space, fileType: fileType, count: count, failure: failure))
    case H5T_INTEGER:
        var values = [Int64](repeating: 0, count: count)
        if count > 0, H5Aread(attribute.id, wd_H5T_NATIVE_INT64(), &values) < 0 { throw failure("cannot read attribute") }
        return .integers(values)
    case H5T_FLOAT:
        var values = [Double](repeating: 0, count: count)
        if count > 0, H5Aread(attribute.id, wd_H5T_NATIVE_DOUBLE(), &values) < 0 { throw failure("cannot read attribute") }
        return .floats(values)
    default:
        _ = Library.takeErrorStack()
        return .other(typeClassName(H5Tget_class(fileType.id)))
    }
}

private func readStrings(attribute: Handle, space: Handle, fileType: Handle, count: Int,
                         failure: (String, HDF5Error.Code) -> HDF5Error) throws -> [String] {
    if count == 0 { return [] }
    let memTypeID = H5Tcopy(fileType.id)
    guard memTypeID >= 0 else { throw failure("cannot copy string type", .cannotRead) }
    let memType = Handle(memTypeID, .datatype)
    let variable = H5Tis_variable_str(fileType.id)
    guard variable >= 0 else { throw failure("cannot read string type", .cannotRead) }
    if variable > 0 {
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        guard H5Aread(attribute.id, memType.id, &pointers) >= 0 else { throw failure("cannot read attribute", .cannotRead) }
        defer { _ = H5Dvlen_reclaim(memType.id, space.id, wd_H5P_DEFAULT(), &pointers) }
        // libhdf5 has allocated the strings; refuse before copying (and parsing) more than the bound.
        var total = 0
        for pointer in pointers {
            total += pointer.map { strnlen($0, stringByteLimit + 1) } ?? 0
            guard total <= stringByteLimit else {
                throw failure("string attribute is larger than \(stringByteLimit >> 20) MiB (a Keras config is a few MiB)",
                              .unsupported)
            }
        }
        return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }
    let size = H5Tget_size(fileType.id)
    guard size > 0 else { throw failure("string type has no size", .unsupported) }
    let (total, overflow) = size.multipliedReportingOverflow(by: count)
    guard !overflow, total <= stringByteLimit else {
        throw failure("string attribute is larger than \(stringByteLimit >> 20) MiB (a Keras config is a few MiB)", .unsupported)
    }
    var bytes = [UInt8](repeating: 0, count: total)
    guard H5Aread(attribute.id, memType.id, &bytes) >= 0 else { throw failure("cannot read attribute", .cannotRead) }
    let spacePadded = H5Tget_strpad(fileType.id) == H5T_STR_SPACEPAD
    return (0..<count).map { index in
        var item = bytes[(index * size)..<((index + 1) * size)]
        if let end = item.firstIndex(of: 0) { item = item[..<end] }
        var text = String(decoding: item, as: UTF8.self)
        if spacePadded { while text.hasSuffix(" ") { text.removeLast() } }
        return text
    }
}

func typeClassName(_ typeClass: H5T_class_t) -> String {
    switch typeClass {
    case H5T_INTEGER: "integer"
    case H5T_FLOAT: "float"
    case H5T_TIME: "time"
    case H5T_STRING: "string"
    case H5T_BITFIELD: "bitfield"
    case H5T_OPAQUE: "opaque"
    case H5T_COMPOUND: "compound"
    case H5T_REFERENCE: "reference"
    case H5T_ENUM: "enum"
    case H5T_VLEN: "vlen"
    case H5T_ARRAY: "array"
    default: "unknown"
    }
}
