internal import CHDF5
import Foundation

/// How a dataset's elements are stored in the file, as far as a reader must care.
public enum ElementType: Sendable, Equatable, CustomStringConvertible {
    /// A floating-point class of `size` bytes. `layout` says which bit layout it has.
    case float(size: Int, layout: FloatLayout)
    case integer(size: Int, signed: Bool)
    /// Untyped bytes (h5py stores bfloat16 as a 2-byte opaque type).
    case opaque(size: Int, tag: String)
    case string
    /// Any other class, by name.
    case other(String)

    public var description: String {
        switch self {
        case .float(let size, let layout): "float\(size * 8)(\(layout))"
        case .integer(let size, let signed): "\(signed ? "int" : "uint")\(size * 8)"
        case .opaque(let size, let tag): "opaque\(size)\(tag.isEmpty ? "" : "(\(tag))")"
        case .string: "string"
        case .other(let name): name
        }
    }
}

/// The bit layouts of the floating-point types a Keras checkpoint can hold.
public enum FloatLayout: String, Sendable, Equatable {
    case ieeeHalf, bfloat16, ieeeSingle, ieeeDouble
    /// Any other layout (e.g. an 80-bit extended type); not decoded.
    case unknown
}

/// Where the dataset's bytes are.
public enum StorageLayout: Sendable, Equatable {
    /// One run of bytes at `offset` in the file (nil when never written).
    case contiguous(offset: UInt64?)
    /// Chunks, each possibly passed through the filters listed (HDF5 filter ids).
    case chunked(filters: [Int])
    case compact
    case other
}

/// An open dataset: shape, element type, storage, attributes, and slice reads.
public final class Dataset: @unchecked Sendable {
    public let file: File
    /// Absolute path in the file.
    public let path: String
    /// Dimensions; empty for a scalar dataspace.
    public let shape: [Int]
    /// Number of elements (1 for a scalar).
    public let count: Int
    public let elementType: ElementType
    let handle: Handle
    let fileType: Handle

    /// What only reading needs, found on first use: listing a checkpoint never pays for it.
    struct Storage {
        var layout: StorageLayout
        var unavailableFilters: [Int]
        var storedBytes: UInt64
        /// Bytes of the declared shape that no stored chunk (or no allocated contiguous block)
        /// holds: libhdf5 makes them up from the fill value.
        var unstoredBytes: UInt64
        /// For contiguous, allocated storage inside the image: the absolute offset of the data in
        /// the OS file, and the memory layouts the stored bytes already have (a copy is a read).
        var directOffset: UInt64?
        var directLayouts: Set<DirectLayout>
    }

    enum DirectLayout { case float32, float64, raw16 }

    private let storageLock = NSLock()
    private var storageCache: Storage?

    init(file: File, path: String, handle: Handle) throws {
        func failure(_ message: String, _ code: HDF5Error.Code = .cannotRead) -> HDF5Error {
            HDF5Error(code, file: file.path, object: path, message: message, stack: Library.takeErrorStack())
        }
        self.file = file
        self.path = path
        self.handle = handle

        let sid = H5Dget_space(handle.id)
        guard sid >= 0 else { throw failure("cannot read dataspace") }
        let space = Handle(sid, .dataspace)
        let rank = H5Sget_simple_extent_ndims(space.id)
        guard rank >= 0, rank <= 32 else { throw failure("unsupported dataspace") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0, H5Sget_simple_extent_dims(space.id, &dims, nil) < 0 { throw failure("cannot read dataspace") }
        var total = 1
        for dim in dims {
            guard dim <= UInt64(Int.max) else { throw failure("dimension too large", .unsupported) }
            let (product, overflow) = total.multipliedReportingOverflow(by: Int(dim))
            guard !overflow else { throw failure("element count overflows", .unsupported) }
            total = product
        }
        if H5Sget_simple_extent_type(space.id) == H5S_NULL { total = 0 }
        shape = dims.map { Int($0) }
        count = total

        let tid = H5Dget_type(handle.id)
        guard tid >= 0 else { throw failure("cannot read datatype") }
        fileType = Handle(tid, .datatype)
        elementType = describe(type: fileType.id)

        // Before anything is read: storage in another file is never followed (libhdf5 would read
        // any file an EXTERNAL list or a virtual dataset names), and a chunk that could not be
        // decompressed within the memory bound is refused with its size.
        let plistID = H5Dget_create_plist(handle.id)
        guard plistID >= 0 else { throw failure("cannot read creation properties") }
        let plist = Handle(plistID, .propertyList)
        let layout = H5Pget_layout(plist.id)
        if layout == H5D_VIRTUAL {
            throw failure("virtual dataset (VDS) whose values come from other files; refusing to read outside the named file",
                          .unsupported)
        }
        let externals = H5Pget_external_count(plist.id)
        guard externals >= 0 else { throw failure("cannot read creation properties") }
        if externals > 0 {
            var name = [CChar](repeating: 0, count: 256)
            var offset: off_t = 0
            var size: hsize_t = 0
            _ = H5Pget_external(plist.id, 0, name.count, &name, &offset, &size)
            _ = Library.takeErrorStack()
            throw failure("values stored in an external file ('\(decodeCString(name))', HDF5 EXTERNAL storage); "
                          + "refusing to read outside the named file", .unsupported)
        }
        if layout == H5D_CHUNKED {
            var chunk = [hsize_t](repeating: 0, count: 32)
            let chunkRank = H5Pget_chunk(plist.id, 32, &chunk)
            guard chunkRank >= 0 else { throw failure("cannot read the chunk shape") }
            var bytes = UInt64(max(1, H5Tget_size(fileType.id)))
            for dim in chunk.prefix(Int(chunkRank)) {
                let (product, overflow) = bytes.multipliedReportingOverflow(by: UInt64(dim))
                bytes = overflow ? .max : product
            }
            if bytes > Dataset.chunkByteLimit {
                throw failure("one chunk holds \(bytes) bytes (chunk shape \(chunk.prefix(Int(chunkRank)).map(Int.init))), "
                              + "more than the \(Dataset.chunkByteLimit >> 20) MiB a chunk may take to decompress", .unsupported)
            }
        }
        _ = Library.takeErrorStack()
    }

    /// The largest chunk read: libhdf5 decompresses a whole chunk into memory (and caches it).
    public static let chunkByteLimit: UInt64 = 256 << 20

    /// How the data is stored (contiguous, chunked with filters, compact).
    public var storage: StorageLayout { get throws { try storageInfo().layout } }
    /// HDF5 filter ids that libhdf5 cannot decode here (e.g. 32001, Blosc: plugins are off).
    public var unavailableFilters: [Int] { get throws { try storageInfo().unavailableFilters } }
    /// Bytes actually stored in the file for the data (after compression; 0 when never written).
    public var storedBytes: UInt64 { get throws { try storageInfo().storedBytes } }
    /// Bytes of the declared shape not backed by stored data (unwritten chunks: fill values).
    public var unstoredBytes: UInt64 { get throws { try storageInfo().unstoredBytes } }

    /// Bytes the declared shape and type take in memory.
    public var logicalBytes: UInt64 { Library.locked { logicalBytesLocked } }

    private var logicalBytesLocked: UInt64 {
        let (product, overflow) = UInt64(H5Tget_size(fileType.id)).multipliedReportingOverflow(by: UInt64(count))
        return overflow ? .max : product
    }

    /// Where a contiguous dataset's bytes start in the OS file (the image's offset added); nil for
    /// chunked or compact storage, or when never written. Cheap: read from the object header
    /// already loaded. For reading datasets in file order, not for reading them.
    public var fileOffset: UInt64? {
        Library.locked {
            let offset = H5Dget_offset(handle.id)
            if offset == wd_HADDR_UNDEF() {
                _ = Library.takeErrorStack()
                return nil
            }
            return file.image.offset &+ UInt64(offset)
        }
    }

    private func storageInfo() throws -> Storage {
        storageLock.lock()
        defer { storageLock.unlock() }
        if let storageCache { return storageCache }
        let info = try Library.locked(file.path, path) { try readStorage() }
        storageCache = info
        return info
    }

    /// Must be called under the library lock.
    private func readStorage() throws -> Storage {
        func failure(_ message: String) -> HDF5Error {
            HDF5Error(.cannotRead, file: file.path, object: path, message: message, stack: Library.takeErrorStack())
        }
        let plistID = H5Dget_create_plist(handle.id)
        guard plistID >= 0 else { throw failure("cannot read creation properties") }
        let plist = Handle(plistID, .propertyList)
        var filters: [Int] = []
        var unavailable: [Int] = []
        let layout: StorageLayout
        switch H5Pget_layout(plist.id) {
        case H5D_CONTIGUOUS:
            let offset = H5Dget_offset(handle.id)
            if offset == wd_HADDR_UNDEF() { _ = Library.takeErrorStack() }
            layout = .contiguous(offset: offset == wd_HADDR_UNDEF() ? nil : UInt64(offset))
        case H5D_CHUNKED:
            let n = H5Pget_nfilters(plist.id)
            guard n >= 0 else { throw failure("cannot read filters") }
            for index in 0..<UInt32(n) {
                var flags: UInt32 = 0
                var nValues = 0
                var config: UInt32 = 0
                let id = H5Pget_filter2(plist.id, index, &flags, &nValues, nil, 0, nil, &config)
                guard id >= 0 else { throw failure("cannot read filters") }
                filters.append(Int(id))
                if H5Zfilter_avail(id) <= 0 {
                    _ = Library.takeErrorStack()
                    unavailable.append(Int(id))
                }
            }
            layout = .chunked(filters: filters)
        case H5D_COMPACT:
            layout = .compact
        default:
            _ = Library.takeErrorStack()
            layout = .other
        }

        // Direct reads: contiguous storage inside the image, a type the machine reads as is.
        var layouts = Set<DirectLayout>()
        if H5Tequal(fileType.id, wd_H5T_NATIVE_FLOAT()) > 0 { layouts.insert(.float32) }
        if H5Tequal(fileType.id, wd_H5T_NATIVE_DOUBLE()) > 0 { layouts.insert(.float64) }
        if H5Tget_size(fileType.id) == 2, H5Tget_class(fileType.id) == H5T_OPAQUE
            || (H5Tget_class(fileType.id) == H5T_FLOAT && H5Tget_order(fileType.id) == H5T_ORDER_LE) {
            layouts.insert(.raw16)
        }
        _ = Library.takeErrorStack()
        var offset: UInt64?
        if case .contiguous(let address?) = layout, file.direct != nil {
            let bytes = UInt64(H5Tget_size(fileType.id)).multipliedReportingOverflow(by: UInt64(count))
            if !bytes.overflow, address <= file.image.length, bytes.partialValue <= file.image.length - address {
                offset = file.image.offset + address
            }
        }
        let stored = UInt64(H5Dget_storage_size(handle.id))
        _ = Library.takeErrorStack()
        var unstored: UInt64 = 0
        switch layout {
        case .contiguous(nil): unstored = count == 0 ? 0 : logicalBytesLocked
        case .chunked:
            var chunk = [hsize_t](repeating: 0, count: 32)
            let rank = Int(H5Pget_chunk(plist.id, 32, &chunk))
            var written: hsize_t = 0
            let space = H5Dget_space(handle.id)
            defer { if space >= 0 { _ = H5Sclose(space) } }
            if rank == shape.count, count > 0, space >= 0, H5Dget_num_chunks(handle.id, space, &written) >= 0 {
                var chunks: UInt64 = 1
                for (dim, size) in zip(shape, chunk.prefix(rank)) where size > 0 {
                    let (product, overflow) = chunks.multipliedReportingOverflow(by: (UInt64(dim) + size - 1) / size)
                    chunks = overflow ? .max : product
                }
                let chunkBytes = logicalBytesLocked / max(1, UInt64(count)) * chunk.prefix(rank).reduce(1) { $0 &* $1 }
                let missing = chunks > UInt64(written) ? chunks - UInt64(written) : 0
                let (bytes, overflow) = missing.multipliedReportingOverflow(by: chunkBytes)
                unstored = min(overflow ? .max : bytes, logicalBytesLocked)
            }
            _ = Library.takeErrorStack()
        default: break
        }
        return Storage(layout: layout, unavailableFilters: unavailable, storedBytes: stored, unstoredBytes: unstored,
                       directOffset: offset, directLayouts: layouts)
    }

    /// The attribute's value, or nil when there is none of that name.
    public func attribute(_ name: String) throws -> AttributeValue? {
        try Library.locked(file.path, path + "@" + name) { try readAttribute(objectID: handle.id, name: name, file: file.path, object: path) }
    }

    // MARK: Selections

    /// A box of the dataset: `count[d]` indices from `start[d]` in each dimension d (both empty
    /// for a scalar). Its elements, in row-major order, are a contiguous run of the flattened
    /// dataset when the box is a row-major slice of it.
    public struct Selection: Sendable, Equatable {
        public let start: [Int]
        public let count: [Int]
        public var elementCount: Int { count.reduce(1, *) }

        public init(start: [Int], count: [Int]) {
            self.start = start
            self.count = count
        }
    }

    /// The whole dataset.
    public var all: Selection { Selection(start: shape.map { _ in 0 }, count: shape) }

    // MARK: Reads. Each reads a selection into `buffer`, which is resized to exactly the elements
    // read and reused across calls.

    /// Float types of 4 or 8 bytes and integer types, converted by libhdf5 to Float.
    public func read(_ selection: Selection, into buffer: inout [Float]) throws {
        try read(selection, into: &buffer, memoryType: { wd_H5T_NATIVE_FLOAT() }, layout: .float32)
    }

    /// Any numeric type, converted by libhdf5 to Double.
    public func read(_ selection: Selection, into buffer: inout [Double]) throws {
        try read(selection, into: &buffer, memoryType: { wd_H5T_NATIVE_DOUBLE() }, layout: .float64)
    }

    /// Integer types, converted by libhdf5 to Int64.
    public func read(_ selection: Selection, into buffer: inout [Int64]) throws {
        try read(selection, into: &buffer, memoryType: { wd_H5T_NATIVE_INT64() })
    }

    /// The raw 16-bit words of a 2-byte type (float16, bfloat16, opaque), no conversion
    /// except to little-endian byte order. Widening is the caller's job: libhdf5's own
    /// float16 conversion is an order of magnitude slower.
    public func readRaw16(_ selection: Selection, into buffer: inout [UInt16]) throws {
        let size = Library.locked { H5Tget_size(fileType.id) }
        guard size == 2 else {
            throw HDF5Error(.unsupported, file: file.path, object: path, message: "element type \(elementType) is not 2 bytes wide")
        }
        try read(selection, into: &buffer, memoryType: { H5Tcopy(fileType.id) }, ownsMemoryType: true, layout: .raw16)
    }

    /// The raw 64-bit words of an 8-byte type (little-endian, no other conversion): for comparing stored bits.
    public func readRaw64(_ selection: Selection, into buffer: inout [UInt64]) throws {
        let size = Library.locked { H5Tget_size(fileType.id) }
        guard size == 8 else {
            throw HDF5Error(.unsupported, file: file.path, object: path, message: "element type \(elementType) is not 8 bytes wide")
        }
        try read(selection, into: &buffer, memoryType: { H5Tcopy(fileType.id) }, ownsMemoryType: true)
    }

    /// The flat index where a box starts when its elements are one run of the flattened dataset.
    private func flatRun(_ selection: Selection) -> Int? {
        guard let first = selection.count.firstIndex(where: { $0 != 1 }) else {
            return zip(selection.start, shape).reduce(0) { $0 * $1.1 + $1.0 }
        }
        for d in (first + 1)..<shape.count where selection.count[d] != shape[d] { return nil }
        return zip(selection.start, shape).reduce(0) { $0 * $1.1 + $1.0 }
    }

    private func read<T: Numeric>(_ selection: Selection, into buffer: inout [T], memoryType: () -> hid_t,
                                  ownsMemoryType: Bool = false, layout: DirectLayout? = nil) throws {
        guard selection.start.count == shape.count, selection.count.count == shape.count,
              zip(zip(selection.start, selection.count), shape).allSatisfy({ $0.0 >= 0 && $0.1 >= 0 && $0.0 + $0.1 <= $1 }) else {
            throw HDF5Error(.cannotRead, file: file.path, object: path,
                            message: "selection \(selection.start)+\(selection.count) outside the dataset's shape \(shape)")
        }
        let info = try storageInfo()
        if !info.unavailableFilters.isEmpty {
            let names = info.unavailableFilters.map(filterName).joined(separator: ", ")
            throw HDF5Error(.unsupported, file: file.path, object: path,
                            message: "compressed with \(names), which WeightDrift does not decode (it decodes deflate, shuffle, fletcher32, szip, nbit, scaleoffset and lzf; filter plugins are never loaded): rewrite the file with one of those, e.g. `h5repack -f GZIP=4` where that filter's plugin is installed")
        }
        let elements = count == 0 ? 0 : selection.elementCount
        // Every element is overwritten below: a reused buffer of the right size is not cleared.
        if buffer.count != elements {
            buffer.removeAll(keepingCapacity: true)
            buffer.append(contentsOf: repeatElement(0, count: elements))
        }
        if elements == 0 { return }
        if let layout, let base = info.directOffset, info.directLayouts.contains(layout), let run = flatRun(selection),
           let reader = file.direct {
            let width = UInt64(MemoryLayout<T>.stride)
            let complete = buffer.withUnsafeMutableBytes { reader.read(into: $0, at: base + UInt64(run) * width) }
            guard complete else {
                throw HDF5Error(.cannotRead, file: file.path, object: path, message: "data ends before the dataset does (truncated file?)")
            }
            return
        }
        try Library.locked(file.path, path) {
            func failure(_ message: String) -> HDF5Error {
                HDF5Error(.cannotRead, file: file.path, object: path, message: message, stack: Library.takeErrorStack())
            }
            let typeID = memoryType()
            guard typeID >= 0 else { throw failure("cannot make memory type") }
            defer { if ownsMemoryType { _ = H5Tclose(typeID) } }
            if ownsMemoryType, [H5T_FLOAT, H5T_INTEGER].contains(H5Tget_class(typeID)), H5Tset_order(typeID, H5T_ORDER_LE) < 0 {
                throw failure("cannot set byte order")
            }
            if shape.isEmpty {
                let status = buffer.withUnsafeMutableBytes {
                    H5Dread(handle.id, typeID, wd_H5S_ALL(), wd_H5S_ALL(), wd_H5P_DEFAULT(), $0.baseAddress)
                }
                guard status >= 0 else { throw failure("cannot read values") }
                return
            }
            let fileSpaceID = H5Dget_space(handle.id)
            guard fileSpaceID >= 0 else { throw failure("cannot read dataspace") }
            defer { _ = H5Sclose(fileSpaceID) }
            var start = selection.start.map { hsize_t($0) }
            var extent = selection.count.map { hsize_t($0) }
            guard H5Sselect_hyperslab(fileSpaceID, H5S_SELECT_SET, &start, nil, &extent, nil) >= 0 else {
                throw failure("cannot select values")
            }
            var memoryExtent = [hsize_t(elements)]
            let memorySpaceID = H5Screate_simple(1, &memoryExtent, nil)
            guard memorySpaceID >= 0 else { throw failure("cannot make memory space") }
            defer { _ = H5Sclose(memorySpaceID) }
            let status = buffer.withUnsafeMutableBytes {
                H5Dread(handle.id, typeID, memorySpaceID, fileSpaceID, wd_H5P_DEFAULT(), $0.baseAddress)
            }
            guard status >= 0 else { throw failure("cannot read values") }
        }
    }
}

/// A readable name for an HDF5 filter id.
public func filterName(_ id: Int) -> String {
    switch id {
    case 1: "deflate"
    case 2: "shuffle"
    case 3: "fletcher32"
    case 4: "szip"
    case 5: "nbit"
    case 6: "scaleoffset"
    case 32000: "lzf (filter 32000)"
    case 32001: "blosc (filter 32001)"
    case 32004: "lz4 (filter 32004)"
    case 32015: "zstd (filter 32015)"
    default: "filter \(id)"
    }
}

/// Classifies a datatype; must be called under the library lock.
func describe(type id: hid_t) -> ElementType {
    let size = H5Tget_size(id)
    switch H5Tget_class(id) {
    case H5T_FLOAT:
        var signPosition = 0, exponentPosition = 0, exponentSize = 0, mantissaPosition = 0, mantissaSize = 0
        guard H5Tget_fields(id, &signPosition, &exponentPosition, &exponentSize, &mantissaPosition, &mantissaSize) >= 0 else {
            _ = Library.takeErrorStack()
            return .float(size: size, layout: .unknown)
        }
        let bias = H5Tget_ebias(id)
        let fields = [size, signPosition, exponentPosition, exponentSize, mantissaPosition, mantissaSize, Int(bias)]
        let layout: FloatLayout = switch fields {
        case [2, 15, 10, 5, 0, 10, 15]: .ieeeHalf
        case [2, 15, 7, 8, 0, 7, 127]: .bfloat16
        case [4, 31, 23, 8, 0, 23, 127]: .ieeeSingle
        case [8, 63, 52, 11, 0, 52, 1023]: .ieeeDouble
        default: .unknown
        }
        return .float(size: size, layout: layout)
    case H5T_INTEGER:
        return .integer(size: size, signed: H5Tget_sign(id) == H5T_SGN_2)
    case H5T_OPAQUE:
        let tag = H5Tget_tag(id)
        defer { if let tag { H5free_memory(tag) } }
        return .opaque(size: size, tag: tag.map { String(cString: $0) } ?? "")
    case H5T_STRING:
        return .string
    case let other:
        return .other(typeClassName(other))
    }
}
