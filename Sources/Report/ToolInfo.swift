import Checkpoint
/// The tool's name and version, carried by every JSON report.
public enum ToolInfo {
    public static let name = "weightdrift"
    public static let version = "0.2.0"

    static var json: JSONValue { .object(["name": .string(name), "version": .string(version)]) }
}
