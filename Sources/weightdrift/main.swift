import ArgumentParser
import Checkpoint
import Foundation

// Exit codes, as diff and h5diff use them: 0 pass, 1 the drift gate failed, 2 bad input or usage.
do {
    var command = try WeightDrift.parseAsRoot()
    try command.run()
} catch let error as CheckpointError {
    Console.error(error.description)
    exit(2)
} catch let error as CLIError {
    Console.error(error.message)
    exit(2)
} catch let code as ExitCode {
    exit(code.rawValue)
} catch {
    let code = WeightDrift.exitCode(for: error)
    if code == .success {
        WeightDrift.exit(withError: error)  // --help, --version
    }
    Console.error(WeightDrift.message(for: error))
    FileHandle.standardError.write(Data("Usage: \(WeightDrift.usageString(for: error))\n".utf8))
    exit(2)
}
