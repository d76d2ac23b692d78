import Dispatch
import DriveAPI
import Foundation
import Logging
import Synchronization

/// Log lines off the request path: a handler formats its line and appends it to a buffer; one
/// writer thread hands whatever has gathered to standard error in one `write(2)`. A request no
/// longer waits for the terminal, the pipe or journald, and a burst of lines costs one system
/// call. Lines are never dropped: when the writer falls behind by more than `limit` bytes (the
/// reader of standard error stalls), the line's producer writes the buffer itself, as an
/// unbuffered logger would. `flush()` on a clean stop writes what is left.
final class LogSink: Sendable {
    static let standardError = LogSink(fd: 2)

    struct State {
        var buffer: [UInt8] = []
        /// The writer thread has been told there is something to write.
        var signalled = false
        var started = false
    }

    let fd: Int32
    let limit: Int
    let state = Mutex<State>(State())
    /// Serialises the writes themselves (the writer thread, an overflowing producer, `flush`):
    /// lines reach the descriptor in the order they were appended.
    let writing = Mutex<Void>(())
    let wake = DispatchSemaphore(value: 0)

    init(fd: Int32, limit: Int = 1 << 20) {
        self.fd = fd
        self.limit = limit
    }

    /// Appends one formatted line (with its newline).
    func append(_ line: [UInt8]) {
        var overflow = false
        var signal = false
        var start = false
        state.withLock { state in
            state.buffer.append(contentsOf: line)
            if state.buffer.count > limit {
                overflow = true
            } else if !state.signalled {
                state.signalled = true
                signal = true
            }
            if !state.started {
                state.started = true
                start = true
            }
        }
        if start { startWriter() }
        if overflow {
            flush()
        } else if signal {
            wake.signal()
        }
    }

    /// Writes everything appended so far, now, on the caller's thread.
    func flush() {
        writing.withLock { _ in
            let pending = state.withLock { state -> [UInt8] in
                state.signalled = false
                defer { state.buffer.removeAll(keepingCapacity: state.buffer.capacity <= 4 * limit) }
                return state.buffer
            }
            Self.writeAll(pending, to: fd)
        }
    }

    func startWriter() {
        let thread = Thread { [self] in
            while true {
                wake.wait()
                // Let a burst gather: one write (and one wake-up) for many lines, at the cost of
                // lines reaching the log up to 2 ms later.
                usleep(2_000)
                flush()
            }
        }
        thread.name = "drivesd-log"
        thread.start()
    }

    static func writeAll(_ bytes: [UInt8], to fd: Int32) {
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return  // standard error is gone: nothing else to do with the line
                }
            }
        }
    }
}

/// swift-log's text format (`StreamLogHandler`'s: time, level, label, metadata, message), written
/// through the ``LogSink``. The time is formatted once a second, not once a line.
struct TextLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    // Hummingbird sets `hb.request.id` on every request's logger: the metadata is formatted when a
    // line is written, not each time it changes.
    var metadata: Logger.Metadata = [:]
    let sink: LogSink

    init(label: String, logLevel: Logger.Level, sink: LogSink = .standardError) {
        self.label = label
        self.logLevel = logLevel
        self.sink = sink
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let extra = event.metadata ?? [:]
        let merged = extra.isEmpty ? metadata : metadata.isEmpty ? extra : metadata.merging(extra) { $1 }
        sink.append(
            Self.line(
                level: event.level.rawValue, label: label,
                pairs: merged.sorted(by: { $0.key < $1.key }).lazy.map { ($0.key, $0.value.description) },
                source: event.source, message: event.message.description))
    }

    /// A request's line, in this handler's format, without swift-log's metadata dictionary
    /// (written for every request at `log.level` info).
    static func accessLine(_ line: AccessLogLine, sink: LogSink = .standardError) {
        let status = String(line.status)
        sink.append(
            Self.line(
                level: "info", label: "drivesd",
                pairs: [
                    ("duration_ms", line.durationMilliseconds), ("method", line.method), ("path", line.path),
                    ("request_id", line.requestID), ("status", status),
                ],
                source: "DriveAPI", message: "\(line.method) \(line.path) \(status)"))
    }

    /// `<time> <level> <label> : k=v ... [<source>] <message>` and a newline (swift-log's
    /// `StreamLogHandler` format).
    static func line<Pairs: Sequence<(String, String)>>(
        level: String, label: String, pairs: Pairs, source: String, message: String
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out += Clock.timestamp().utf8
        out.append(UInt8(ascii: " "))
        out += level.utf8
        out.append(UInt8(ascii: " "))
        out += label.utf8
        out += " :".utf8
        for (key, value) in pairs {
            out.append(UInt8(ascii: " "))
            out += key.utf8
            out.append(UInt8(ascii: "="))
            out += value.utf8
        }
        out += " [".utf8
        out += source.utf8
        out += "] ".utf8
        out += message.utf8
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// `2026-11-30T05:35:39+0000`, cached for the current second.
    enum Clock {
        static let cache = Mutex<(second: Int, text: String)>((-1, ""))

        static func timestamp() -> String {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let second = now.tv_sec
            if let hit = cache.withLock({ $0.second == second ? $0.text : nil }) { return hit }
            var seconds = second
            var parts = tm()
            localtime_r(&seconds, &parts)
            var buffer = [Int8](repeating: 0, count: 64)
            let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
            let text = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            cache.withLock { $0 = (second, text) }
            return text
        }
    }
}
