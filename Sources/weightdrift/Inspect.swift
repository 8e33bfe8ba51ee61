import ArgumentParser
import Checkpoint
import Report

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the layers, weights and training state stored in a Keras checkpoint.",
        discussion: """
        Reads .h5 (model.save / save_weights), .weights.h5, .keras and sharded .weights.json \
        checkpoints; the layout is recognised from the content, not the file name.
        """
    )

    @Argument(help: "The checkpoint: .h5, .weights.h5, .keras or .weights.json.")
    var path: String

    @Option(name: .long, help: "Output format: table or json.")
    var format: OutputFormat = .table

    @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output.")
    var output: String?

    func run() throws {
        let checkpoint = try Checkpoint.open(path)
        let text = switch format {
        case .table: InspectReport.table(checkpoint)
        case .json: JSONWriter.write(InspectReport.json(checkpoint))
        }
        try Console.write(text, to: output)
    }
}
