/// Text that comes from the files (layer, weight and class names, versions, optimizer names,
/// paths, CSV column names, reader notes) made inert for each output format: the one place
/// where a renderer's input is escaped. Each renderer calls the function of its format where
/// such a string enters it.
public enum Sanitize {
    /// For the terminal and plain text: control characters (C0, DEL, C1) and Unicode format
    /// controls (bidi overrides, zero-width marks) become visible escapes (`\n`, `\x1b`,
    /// `\u{202e}`), so a name cannot move the cursor, recolour, clear the screen or start a new
    /// line; a leading `::` (a GitHub workflow command when the line reaches an Actions log)
    /// becomes `\x3a:`. A backslash is doubled only when something was escaped, so names stay
    /// readable and the escaping stays unambiguous.
    public static func terminal(_ text: String) -> String {
        let forgesCommand = text.hasPrefix("::")
        guard forgesCommand || text.unicodeScalars.contains(where: isUnsafe) else { return text }
        var out = ""
        for (index, scalar) in text.unicodeScalars.enumerated() {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case ":" where index == 0 && forgesCommand: out += "\\x3a"
            case let c where isUnsafe(c):
                out += c.value < 0x100 ? "\\x" + hex(c.value, width: 2) : "\\u{" + hex(c.value, width: 4) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// For a Markdown table cell or list item (GitHub-flavoured): the terminal escapes, then
    /// every character that can open Markdown or HTML structure — emphasis, links, images,
    /// headings, code, tables, HTML tags and entities — escaped, so a name or a version string
    /// renders as the literal text it is.
    public static func markdown(_ text: String) -> String {
        var out = ""
        let scalars = Array(terminal(text).unicodeScalars)
        func isWordCharacter(_ index: Int) -> Bool {
            index >= 0 && index < scalars.count && (scalars[index].properties.isAlphabetic || ("0"..."9").contains(scalars[index]))
        }
        for (index, scalar) in scalars.enumerated() {
            switch scalar {
            // An underscore between two word characters (dense_1) cannot open or close emphasis.
            case "_" where isWordCharacter(index - 1) && isWordCharacter(index + 1): out += "_"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\\", "`", "*", "_", "[", "]", "#", "!", "|", "~", "@":
                out += "\\"
                out.unicodeScalars.append(scalar)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// For a GitHub workflow command: `%`, CR and LF percent-encoded as the runner decodes them
    /// (and `:` and `,` in a property), other control characters as visible escapes, so data
    /// cannot end the command and start another.
    public static func github(_ text: String, property: Bool = false) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "%": out += "%25"
            case "\r": out += "%0D"
            case "\n": out += "%0A"
            case ":" where property: out += "%3A"
            case "," where property: out += "%2C"
            case let c where isUnsafe(c) && c != "\t": out += "\\x" + hex(c.value, width: 2)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// For XML and XHTML text and attribute values (JUnit, the HTML report): the five markup
    /// characters as entities, newlines as `&#10;`, other control characters (not allowed in XML
    /// 1.0) as `?`.
    public static func xml(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n": out += "&#10;"
            case let c where c.value < 0x20 && c != "\t": out += "?"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F..<0xA0: true
        case 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2069, 0xFEFF: true  // zero-width and bidi controls
        default: false
        }
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
