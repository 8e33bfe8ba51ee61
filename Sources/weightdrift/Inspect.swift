import ArgumentParser
import Checkpoint
import Drift
import Report

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the layers, weights and training state stored in a checkpoint.",
        discussion: """
        Reads .h5 (model.save / save_weights), .weights.h5, .keras and sharded .weights.json \
        Keras checkpoints, and .safetensors files (single, or sharded with \
        model.safetensors.index.json); the layout is recognised from the content, not the file name.
        """
    )

    @Argument(help: "The checkpoint: .h5, .weights.h5, .keras, .weights.json, .safetensors or model.safetensors.index.json.")
    var path: String

    @Option(name: .long, help: "Output format: table or json.")
    var format: OutputFormat = .table

    @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output.")
    var output: String?

    @Flag(name: .long, help: "Also stream every value once: norms, ranges and NaN/Inf counts per layer. Exit 1 when any value is NaN or Inf.")
    var stats = false

    func run() throws {
        let checkpoint = try Checkpoint.open(path)
        guard stats else {
            let text = switch format {
            case .table: InspectReport.table(checkpoint)
            case .json: JSONWriter.write(InspectReport.json(checkpoint))
            }
            try Console.write(text, to: output)
            return
        }
        let health = try Health.check(checkpoint)
        let text = switch format {
        case .table: HealthReport.table(checkpoint, health)
        case .json: JSONWriter.write(HealthReport.json(checkpoint, health))
        }
        try Console.write(text, to: output)
        if health.contains(where: { $0.stats.nonFinite > 0 }) { throw ExitCode(1) }
    }
}
