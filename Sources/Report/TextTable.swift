/// A plain text table: columns padded to their widest cell, numbers right-aligned.
struct TextTable {
    enum Alignment { case left, right }
    let columns: [(title: String, alignment: Alignment)]
    var rows: [[String]] = []

    init(_ columns: [(String, Alignment)]) {
        self.columns = columns.map { (title: Sanitize.terminal($0.0), alignment: $0.1) }
    }

    /// Cells come from the files (names): escaped here for the terminal, once for every table.
    mutating func add(_ row: [String]) { rows.append(row.map(Sanitize.terminal)) }

    /// The widest line these columns and rows render to.
    static func width(_ columns: [(String, Alignment)], _ rows: [[String]]) -> Int {
        var widths = columns.map { $0.0.count }
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        return widths.reduce(0, +) + 2 * max(0, widths.count - 1)
    }

    func render() -> String {
        var widths = columns.map { $0.title.count }
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (index, column) in columns.enumerated() {
                let cell = index < cells.count ? cells[index] : ""
                let pad = String(repeating: " ", count: max(0, widths[index] - cell.count))
                parts.append(column.alignment == .left ? cell + pad : pad + cell)
            }
            var text = parts.joined(separator: "  ")
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        var out = line(columns.map(\.title)) + "\n"
        for row in rows { out += line(row) + "\n" }
        return out
    }
}

/// `1234567` → `1,234,567`.
public func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (index, character) in digits.enumerated() {
        if index > 0, (digits.count - index) % 3 == 0 { out += "," }
        out.append(character)
    }
    return (value < 0 ? "-" : "") + out
}

/// `[3, 3, 1, 8]` → `3×3×1×8`; a scalar → `scalar`.
func shapeText(_ shape: [Int]) -> String {
    shape.isEmpty ? "scalar" : shape.map(String.init).joined(separator: "×")
}
