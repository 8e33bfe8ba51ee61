import ArgumentParser
import Foundation
import Report

struct WeightDrift: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weightdrift",
        abstract: "How far fine-tuning moved a Keras model from its pretrained weights, layer by layer.",
        discussion: """
        Exit codes: 0 pass, 1 the drift gate failed, 2 bad input or usage.
        """,
        version: ToolInfo.version,
        subcommands: [Compare.self, Calibrate.self, Inspect.self, TrendCommand.self, Schedule.self, History.self]
    )

    static func usageString(for error: any Error) -> String {
        let lines = fullMessage(for: error).split(separator: "\n")
        return lines.first { $0.hasPrefix("Usage:") }.map { String($0.dropFirst("Usage: ".count)) } ?? "weightdrift --help"
    }
}

/// A usage problem found after parsing (a bad threshold, an unreadable policy file).
struct CLIError: Error {
    let message: String
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

enum Console {
    /// One line, whatever the message holds: a name inside a damaged file may contain newlines
    /// or control characters, which are shown escaped.
    static func error(_ line: String) {
        stream.write(Data("weightdrift: error: \(oneLine(line))\n".utf8))
    }

    /// The tool's stderr (see `takeStderr`).
    nonisolated(unsafe) static var fd: Int32 = 2
    static var stream: FileHandle { FileHandle(fileDescriptor: fd, closeOnDealloc: false) }

    /// Keeps a duplicate of fd 2 for the tool's own lines and points fd 2 at /dev/null.
    static func takeStderr() {
        let copy = dup(2)
        let null = open("/dev/null", O_WRONLY)
        guard copy >= 0, null >= 0 else { return }
        _ = fcntl(copy, F_SETFD, FD_CLOEXEC)
        _ = dup2(null, 2)
        _ = close(null)
        fd = copy
    }

    static func oneLine(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20 || c.value == 0x7F: out += "\\u{\(String(c.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func warning(_ line: String) {
        stream.write(Data("weightdrift: warning: \(oneLine(line))\n".utf8))
    }

    /// Refuses an output path that would overwrite an input, or whose folder does not exist,
    /// before any work is done.
    static func checkOutput(_ path: String?, inputs: [String]) throws {
        guard let path else { return }
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw CLIError(message: "\(path): --output names a folder; give a file path")
        }
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw CLIError(message: "\(path): --output folder \(folder) does not exist")
        }
        var target = stat()
        guard stat(path, &target) == 0 else { return }  // does not exist yet: cannot be an input
        for input in inputs {
            var other = stat()
            if stat(input, &other) == 0, other.st_dev == target.st_dev, other.st_ino == target.st_ino {
                throw CLIError(message: "\(path): --output is the input \(input); refusing to overwrite a checkpoint")
            }
        }
        // Inside an input folder (an unzipped .keras or a shard set's folder): refused too.
        let resolved = url.resolvingSymlinksInPath().path
        for input in inputs {
            var inputIsFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: input, isDirectory: &inputIsFolder), inputIsFolder.boolValue,
               resolved.hasPrefix(URL(fileURLWithPath: input).resolvingSymlinksInPath().path + "/") {
                throw CLIError(message: "\(path): --output is inside the input folder \(input); refusing to write into a checkpoint")
            }
        }
    }

    /// The report format an output file's extension implies, when `--format` is not given.
    static func formatName(forOutput path: String?) -> String? {
        guard let path else { return nil }
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "json": return "json"
        case "html", "htm": return "html"
        case "md", "markdown": return "markdown"
        case "xml": return "junit"
        default: return nil
        }
    }

    static func write(_ text: String, to path: String?) throws {
        if let path {
            // A regular file is replaced whole (no half-written report); anything else that exists
            // (/dev/null, a FIFO, a terminal) is written in place: replacing it would put a
            // regular file where the device was.
            var target = stat()
            let special = stat(path, &target) == 0 && (target.st_mode & S_IFMT) != S_IFREG
            do {
                try text.write(toFile: path, atomically: !special, encoding: .utf8)
            } catch {
                throw CLIError(message: "\(path): cannot write output: \(error.localizedDescription)")
            }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
