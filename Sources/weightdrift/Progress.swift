import Foundation

/// Progress on stderr for runs longer than a second, and only when stderr is a terminal: a
/// CI log or a pipe gets nothing.
final class Progress: @unchecked Sendable {
    private let what: String
    private let enabled = isatty(Console.fd) == 1
    private let start = Date()
    private let lock = NSLock()
    private var lastShown = Date.distantPast
    private var shown = false

    init(what: String) { self.what = what }

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let now = Date()
        lock.lock()
        defer { lock.unlock() }
        guard now.timeIntervalSince(start) > 1, now.timeIntervalSince(lastShown) > 0.1 else { return }
        lastShown = now
        shown = true
        let percent = Int(Double(done) / Double(total) * 100)
        Console.stream.write(Data("\rweightdrift: \(what) … \(percent)% of \(total) values".utf8))
    }

    /// Clears the progress line, if one was shown.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if shown { Console.stream.write(Data("\r\u{1B}[K".utf8)) }
        shown = false
    }
}
