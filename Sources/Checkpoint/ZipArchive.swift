import Foundation
import HDF5

/// The central directory of a zip archive: enough to find a member's bytes in place.
/// Keras writes `.keras` archives with every member stored (no compression), so a member is a
/// byte range of the archive. ZIP64 records are read, for archives and members over 4 GiB.
struct ZipArchive {
    struct Member {
        let name: String
        /// 0 = stored, 8 = deflate.
        let method: UInt16
        let compressedSize: UInt64
        let uncompressedSize: UInt64
        let localHeaderOffset: UInt64
        let crc32: UInt32
    }

    let path: String
    let fileSize: UInt64
    let members: [Member]

    init(path: String) throws {
        self.path = path
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CheckpointError(.cannotOpen, file: path, message: "cannot open for reading")
        }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        fileSize = size
        func corrupt(_ what: String) -> CheckpointError {
            CheckpointError(.corrupt, file: path, message: "broken zip archive: \(what)")
        }
        // The end-of-central-directory record is in the last 22 + 65535 bytes.
        let tailLength = min(size, 22 + 65_535)
        try handle.seek(toOffset: size - tailLength)
        let tail = try handle.read(upToCount: Int(tailLength)) ?? Data()
        guard tail.count >= 22, let eocd = Self.lastSignature(0x0605_4b50, in: tail, minimumLength: 22) else {
            throw corrupt("no end of central directory")
        }
        var entries = UInt64(tail.le16(eocd + 10))
        var directorySize = UInt64(tail.le32(eocd + 12))
        var directoryOffset = UInt64(tail.le32(eocd + 16))
        if entries == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: a locator just before the EOCD points at the ZIP64 EOCD record.
            guard eocd >= 20, tail.le32(eocd - 20) == 0x0706_4b50 else { throw corrupt("no ZIP64 locator") }
            let recordOffset = tail.le64(eocd - 20 + 8)
            guard recordOffset < size else { throw corrupt("ZIP64 record outside the file") }
            try handle.seek(toOffset: recordOffset)
            let record = try handle.read(upToCount: 56) ?? Data()
            guard record.count == 56, record.le32(0) == 0x0606_4b50 else { throw corrupt("bad ZIP64 record") }
            entries = record.le64(32)
            directorySize = record.le64(40)
            directoryOffset = record.le64(48)
        }
        guard directoryOffset <= size, directorySize <= size - directoryOffset, directorySize <= 64 << 20,
              entries <= directorySize / 46 else {
            throw corrupt("central directory outside the file")
        }
        try handle.seek(toOffset: directoryOffset)
        let directory = try handle.read(upToCount: Int(directorySize)) ?? Data()
        guard directory.count == Int(directorySize) else { throw corrupt("truncated central directory") }

        guard entries <= 10_000 else { throw corrupt("\(entries) members: more than the 10,000 read") }
        var members: [Member] = []
        var position = 0
        for _ in 0..<entries {
            guard position + 46 <= directory.count, directory.le32(position) == 0x0201_4b50 else {
                throw corrupt("bad central directory entry")
            }
            let method = directory.le16(position + 10)
            var compressed = UInt64(directory.le32(position + 20))
            var uncompressed = UInt64(directory.le32(position + 24))
            let nameLength = Int(directory.le16(position + 28))
            let extraLength = Int(directory.le16(position + 30))
            let commentLength = Int(directory.le16(position + 32))
            var localOffset = UInt64(directory.le32(position + 42))
            let nameStart = position + 46
            guard nameStart + nameLength + extraLength + commentLength <= directory.count else {
                throw corrupt("entry runs past the central directory")
            }
            let name = String(decoding: directory[nameStart..<(nameStart + nameLength)], as: UTF8.self)
            // ZIP64 extended information: the 64-bit values, in this order, for each field saturated above.
            var extra = nameStart + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let tag = directory.le16(extra)
                let length = Int(directory.le16(extra + 2))
                var field = extra + 4
                guard field + length <= extraEnd else { break }
                if tag == 0x0001 {
                    if uncompressed == 0xFFFF_FFFF, field + 8 <= extra + 4 + length {
                        uncompressed = directory.le64(field); field += 8
                    }
                    if compressed == 0xFFFF_FFFF, field + 8 <= extra + 4 + length {
                        compressed = directory.le64(field); field += 8
                    }
                    if localOffset == 0xFFFF_FFFF, field + 8 <= extra + 4 + length {
                        localOffset = directory.le64(field)
                    }
                }
                extra += 4 + length
            }
            members.append(Member(name: name, method: method, compressedSize: compressed,
                                  uncompressedSize: uncompressed, localHeaderOffset: localOffset,
                                  crc32: directory.le32(position + 16)))
            position = extraEnd + commentLength
        }
        self.members = members
        try checkUnambiguous(handle: handle, directoryOffset: directoryOffset)
    }

    /// Refuses an archive that Python's zipfile (so Keras) would read differently from us, or
    /// refuse: a name given to two members (zipfile reads the last), a local header whose name,
    /// method or sizes disagree with the central directory, members whose bytes overlap each
    /// other or the central directory.
    private func checkUnambiguous(handle: FileHandle, directoryOffset: UInt64) throws {
        var seen = Set<String>()
        for member in members where !seen.insert(member.name).inserted {
            throw CheckpointError(.corrupt, file: path, object: member.name,
                                  message: "two members have this name (Python's zipfile, so Keras, reads the last one); refusing an ambiguous archive")
        }
        var spans: [(start: UInt64, end: UInt64, name: String)] = []
        for member in members {
            func refuse(_ why: String) -> CheckpointError {
                CheckpointError(.corrupt, file: path, object: member.name, message: "broken zip archive: \(why)")
            }
            guard member.localHeaderOffset <= fileSize, fileSize - member.localHeaderOffset >= 30 else {
                throw refuse("local header outside the file")
            }
            try handle.seek(toOffset: member.localHeaderOffset)
            let header = try handle.read(upToCount: 30) ?? Data()
            guard header.count == 30, header.le32(0) == 0x0403_4b50 else { throw refuse("no local header where the central directory points") }
            let nameLength = Int(header.le16(26))
            let localName = try handle.read(upToCount: nameLength) ?? Data()
            guard localName.count == nameLength else { throw refuse("local header is truncated") }
            let decoded = String(decoding: localName, as: UTF8.self)
            guard decoded == member.name else {
                throw refuse("the local header names it '\(decoded)', the central directory '\(member.name)' (Python's zipfile refuses this)")
            }
            guard header.le16(8) == member.method else {
                throw refuse("the local header and the central directory disagree on the compression method")
            }
            // Without a data descriptor (flag bit 3) the local sizes are the real ones; 0xFFFFFFFF defers to ZIP64.
            let flags = header.le16(6)
            let localCompressed = UInt64(header.le32(18)), localUncompressed = UInt64(header.le32(22))
            if flags & 0x0008 == 0, localCompressed != 0xFFFF_FFFF, localUncompressed != 0xFFFF_FFFF,
               localCompressed != member.compressedSize || localUncompressed != member.uncompressedSize {
                throw refuse("the local header declares \(localCompressed) bytes, the central directory \(member.compressedSize)")
            }
            let start = member.localHeaderOffset
            let dataStart = start + 30 + UInt64(nameLength) + UInt64(header.le16(28))
            guard dataStart <= fileSize, member.compressedSize <= fileSize - dataStart else {
                throw refuse("member is larger than the archive (\(member.compressedSize) bytes declared)")
            }
            spans.append((start, dataStart + member.compressedSize, member.name))
        }
        spans.sort { $0.start < $1.start }
        for (index, span) in spans.enumerated() {
            let next = index + 1 < spans.count ? spans[index + 1].start : directoryOffset
            if span.end > next {
                throw CheckpointError(.corrupt, file: path, object: span.name,
                                      message: "broken zip archive: the member's bytes overlap \(index + 1 < spans.count ? "member \(spans[index + 1].name)" : "the central directory")")
            }
        }
    }

    /// Whether the file ends with a zip end-of-central-directory record whose central directory
    /// is where it says (what Python's `zipfile.is_zipfile` and so Keras's `load_model` accept,
    /// prepended data allowed). An HDF5 file that passes is also a zip.
    static func hasArchiveTail(path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size >= 22 else { return false }
        let tailLength = min(size, 22 + 65_535)
        guard (try? handle.seek(toOffset: size - tailLength)) != nil, let tail = try? handle.read(upToCount: Int(tailLength)) else {
            return false
        }
        let bytes = [UInt8](tail)  // scanned byte by byte: an array, not Data's slower subscript
        var index = bytes.count - 22
        while index >= 0 {
            if bytes[index] == 0x50, bytes[index + 1] == 0x4b, tail.le32(index) == 0x0605_4b50,
               index + 22 + Int(tail.le16(index + 20)) == tail.count {
                let directorySize = UInt64(tail.le32(index + 12))
                let recordOffset = size - tailLength + UInt64(index)
                guard directorySize <= recordOffset else { return false }
                if directorySize == 0 { return true }
                guard (try? handle.seek(toOffset: recordOffset - directorySize)) != nil,
                      let head = try? handle.read(upToCount: 4), head.count == 4 else { return false }
                return head.le32(0) == 0x0201_4b50
            }
            index -= 1
        }
        return false
    }

    /// The offsets where libhdf5 would find an HDF5 superblock signature (0, 512, 1024, 2048, …).
    static func hdf5SignatureOffsets(path: String) -> [UInt64] {
        guard let handle = FileHandle(forReadingAtPath: path), let size = try? handle.seekToEnd() else { return [] }
        defer { try? handle.close() }
        var found: [UInt64] = []
        var offset: UInt64 = 0
        while offset + 8 <= size {
            guard (try? handle.seek(toOffset: offset)) != nil, let bytes = try? handle.read(upToCount: 8) else { break }
            if bytes.elementsEqual([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { found.append(offset) }
            offset = offset == 0 ? 512 : offset * 2
        }
        return found
    }

    func member(named name: String) -> Member? {
        members.first { $0.name == name }
    }

    /// Where the member's stored bytes start: after its local header, whose name and extra
    /// field lengths can differ from the central directory's.
    func dataRange(of member: Member) throws -> (offset: UInt64, length: UInt64) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CheckpointError(.cannotOpen, file: path, message: "cannot open for reading")
        }
        defer { try? handle.close() }
        let corrupt = CheckpointError(.corrupt, file: path, object: member.name, message: "broken zip member header")
        guard member.localHeaderOffset <= fileSize - min(fileSize, 30) else { throw corrupt }
        try handle.seek(toOffset: member.localHeaderOffset)
        let header = try handle.read(upToCount: 30) ?? Data()
        guard header.count == 30, header.le32(0) == 0x0403_4b50 else { throw corrupt }
        let start = member.localHeaderOffset + 30 + UInt64(header.le16(26)) + UInt64(header.le16(28))
        guard start <= fileSize, member.compressedSize <= fileSize - start else {
            throw CheckpointError(.corrupt, file: path, object: member.name,
                                  message: "member is larger than the archive (\(member.compressedSize) bytes declared)")
        }
        return (start, member.compressedSize)
    }

    /// Members Keras would refuse as decompression bombs: declared larger than 4 GiB and more
    /// than 100 times their compressed size (the guard Keras 3.15 applies).
    static func isBomb(_ member: Member) -> Bool {
        member.uncompressedSize > 4 << 30 && member.uncompressedSize > 100 * max(1, member.compressedSize)
    }

    /// Streams a member's content (stored or DEFLATE) to `sink` in bounded pieces, checking its
    /// declared size and CRC-32.
    func stream(_ member: Member, sink: (Data) throws -> Void) throws {
        func broken(_ message: String) -> CheckpointError {
            CheckpointError(.corrupt, file: path, object: member.name, message: message)
        }
        let range = try dataRange(of: member)
        switch member.method {
        case 0:
            guard member.compressedSize == member.uncompressedSize else { throw broken("stored member's sizes disagree") }
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw CheckpointError(.cannotOpen, file: path, message: "cannot open for reading")
            }
            defer { try? handle.close() }
            try handle.seek(toOffset: range.offset)
            var remaining = range.length
            while remaining > 0 {
                let chunk = try handle.read(upToCount: Int(min(remaining, 1 << 20))) ?? Data()
                guard !chunk.isEmpty else { throw broken("member is truncated") }
                remaining -= UInt64(chunk.count)
                try sink(chunk)
            }
        case 8:
            guard !Self.isBomb(member) else {
                throw CheckpointError(.unsupported, file: path, object: member.name,
                                      message: "declares \(member.uncompressedSize) bytes from \(member.compressedSize): refused as a decompression bomb")
            }
            let result: (size: UInt64, crc32: UInt32)
            do {
                result = try Inflate.member(path: path, offset: range.offset, length: range.length,
                                            limit: member.uncompressedSize, sink: sink)
            } catch let failure as Inflate.Failure {
                throw broken(failure.description)
            }
            guard result.size == member.uncompressedSize else {
                throw broken("inflates to \(result.size) bytes, not the \(member.uncompressedSize) declared")
            }
            guard result.crc32 == member.crc32 else { throw broken("CRC-32 mismatch: the member is corrupt") }
        default:
            throw CheckpointError(.unsupported, file: path, object: member.name,
                                  message: "zip compression method \(member.method) is not read (only stored and DEFLATE)")
        }
    }

    /// A small member's bytes (JSON configs).
    func read(_ member: Member, limit: UInt64 = 64 << 20) throws -> Data {
        guard member.uncompressedSize <= limit else {
            throw CheckpointError(.unsupported, file: path, object: member.name, message: "member too large to read")
        }
        var data = Data()
        try stream(member) { data.append($0) }
        return data
    }

    private static func lastSignature(_ signature: UInt32, in data: Data, minimumLength: Int) -> Int? {
        var index = data.count - minimumLength
        while index >= 0 {
            if data.le32(index) == signature { return index }
            index -= 1
        }
        return nil
    }
}

extension Data {
    func le16(_ offset: Int) -> UInt16 {
        let base = startIndex + offset
        return UInt16(self[base]) | UInt16(self[base + 1]) << 8
    }

    func le32(_ offset: Int) -> UInt32 {
        UInt32(le16(offset)) | UInt32(le16(offset + 2)) << 16
    }

    func le64(_ offset: Int) -> UInt64 {
        UInt64(le32(offset)) | UInt64(le32(offset + 4)) << 32
    }
}
