import Foundation

/// What layout readers look at to recognise a path: whether it is a folder, and a file's first bytes.
struct Probe: Sendable {
    let path: String
    let isDirectory: Bool
    /// Up to 512 bytes; empty for a folder.
    let head: Data

    init(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError(.notFound, file: path, message: "no such file")
        }
        self.path = path
        self.isDirectory = isDirectory.boolValue
        if self.isDirectory {
            head = Data()
            return
        }
        try requireRegularFile(path, object: nil, reportedAs: path)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CheckpointError(.cannotOpen, file: path, message: "cannot open for reading (permission denied?)")
        }
        do {
            head = try handle.read(upToCount: 512) ?? Data()
            try handle.close()
        } catch {
            throw CheckpointError(.cannotOpen, file: path, message: "cannot read: \(error.localizedDescription)")
        }
        if head.isEmpty { throw CheckpointError(.notACheckpoint, file: path, message: "empty file") }
    }

    var startsAsHDF5: Bool { head.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) }
}

/// One on-disk layout: how it is recognised from the content (never the name), and how it is opened.
struct LayoutReader: Sendable {
    let recognises: @Sendable (Probe) -> Bool
    let open: @Sendable (Probe) throws -> Checkpoint
}

extension Checkpoint {
    /// Every layout read, in the order they are tried: the first that recognises a path opens it.
    /// Formats that are not read but are recognised ("what this is") come before the loose
    /// fallbacks, so that they get their own message.
    static let layouts: [LayoutReader] = [
        // A Hugging Face model folder: its safetensors index, or its one safetensors file.
        LayoutReader(recognises: { Safetensors.folderEntry($0) != nil }) { probe in
            let name = Safetensors.folderEntry(probe) ?? ""
            let file = (probe.path as NSString).appendingPathComponent(name)
            try requireMember(file, inFolder: probe.path, object: name, reportedAs: probe.path)
            return try Checkpoint.open(file)
        },
        // Keras 3's unzipped .keras folder (other folders get "what this is").
        LayoutReader(recognises: \.isDirectory) { try openDirectory($0.path) },
        LayoutReader(recognises: {
            $0.head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || $0.head.starts(with: [0x50, 0x4B, 0x05, 0x06])
        }) { try openKerasZip($0.path) },
        LayoutReader(recognises: \.startsAsHDF5) {
            if ZipArchive.hasArchiveTail(path: $0.path) { throw ambiguousPolyglot($0.path) }
            return try openHDF5($0.path)
        },
        LayoutReader(recognises: { Safetensors.looksLike($0.head) }) { try openSafetensors($0.path) },
        LayoutReader(recognises: { OtherFormats.identify(head: $0.head, path: $0.path) != nil }) {
            throw CheckpointError(.notACheckpoint, file: $0.path, message: OtherFormats.identify(head: $0.head, path: $0.path) ?? "")
        },
        LayoutReader(recognises: {
            $0.head.first(where: { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }) == UInt8(ascii: "{")
        }) { try openShardIndex($0.path) },
        // HDF5 allows a user block before the superblock: its signature at 512, 1024, 2048, … bytes,
        // where libhdf5 looks for it (the file is then opened once, by `openHDF5`).
        LayoutReader(recognises: { !ZipArchive.hdf5SignatureOffsets(path: $0.path).isEmpty }) {
            if ZipArchive.hasArchiveTail(path: $0.path) { throw ambiguousPolyglot($0.path) }
            return try openHDF5($0.path)
        },
    ]
}
