import ArgumentParser
import Checkpoint
import Drift
import Foundation

// Exit codes, as diff and h5diff use them: 0 pass, 1 the drift gate failed, 2 bad input or usage.

// A damaged length field in a checkpoint can make libhdf5 allocate and zero gigabytes before it
// notices the file is wrong. WeightDrift streams in bounded memory, so it caps its own address
// space (2 GiB; WEIGHTDRIFT_MAX_ADDRESS_SPACE_MB overrides): such an allocation then fails and the
// file is reported as bad input instead of exhausting the machine's memory.
limitAddressSpace()

// Only the tool's own lines reach stderr: it writes to a duplicate of fd 2 and points fd 2 at
// /dev/null, so glibc's message when libhdf5 has corrupted the heap ("free(): invalid size"),
// or anything libhdf5 would print, cannot add a second line before the guard's one.
Console.takeStderr()

// libhdf5 1.10 can crash or loop on a damaged file (tools/fuzz found such inputs): report the file
// and object being read, exit 2, instead of dying by a signal or hanging.
installReaderCrashGuard(callLimitSeconds: ProcessInfo.processInfo.environment["WEIGHTDRIFT_HDF5_CALL_LIMIT_S"].flatMap { Double($0) } ?? 3,
                        reportFD: Console.fd)

do {
    var command = try WeightDrift.parseAsRoot()
    try command.run()
    finish(0)
} catch let error as CheckpointError {
    Console.error(error.description)
    finish(2)
} catch let error as DriftError {
    Console.error(error.description)
    finish(2)
} catch let error as CLIError {
    Console.error(error.message)
    finish(2)
} catch let code as ExitCode {
    finish(code.rawValue)
} catch {
    let code = WeightDrift.exitCode(for: error)
    if code == .success {
        WeightDrift.exit(withError: error)  // --help, --version
    }
    Console.error(WeightDrift.message(for: error))
    Console.stream.write(Data("Usage: \(WeightDrift.usageString(for: error))\n".utf8))
    finish(2)
}

/// Ends the process without running exit handlers: libhdf5's own clean-up at exit walks the
/// metadata of every file still open, and on a damaged file that walk can crash after the report
/// was written. Reports go out through unbuffered file handles, so nothing is lost.
func finish(_ code: Int32) -> Never {
    fflush(nil)  // every C stream (nothing of ours is buffered there; ArgumentParser may print)
    _exit(code)
}

func limitAddressSpace() {
    let environment = ProcessInfo.processInfo.environment
    // (Locals, not globals: globals in main.swift are set only when the top-level code reaches them.)
    func cap(_ resource: __rlimit_resource_t, megabytes: UInt64) {
        guard megabytes > 0 else { return }
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return }
        let wanted = rlim_t(megabytes) << 20
        if limit.rlim_cur > wanted {  // RLIM_INFINITY is the largest value
            limit.rlim_cur = min(wanted, limit.rlim_max)
            _ = setrlimit(resource, &limit)
        }
    }
    cap(__rlimit_resource_t(RLIMIT_AS.rawValue),
        megabytes: environment["WEIGHTDRIFT_MAX_ADDRESS_SPACE_MB"].flatMap { UInt64($0) } ?? 2048)
    // Memory actually written to (heap, anonymous mappings; not reserved address space, code or
    // the page cache): 448 MiB keeps the whole process under 512 MiB even when a damaged length
    // makes libhdf5 allocate and fill a buffer, while a streamed compare needs some 40 MiB.
    cap(__rlimit_resource_t(RLIMIT_DATA.rawValue),
        megabytes: environment["WEIGHTDRIFT_MAX_DATA_MB"].flatMap { UInt64($0) } ?? 448)
}
