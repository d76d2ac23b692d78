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

    func append(_ line: String) {
        append(Array(line.utf8))
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
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line += Clock.timestamp().utf8
        line.append(UInt8(ascii: " "))
        line += event.level.rawValue.utf8
        line.append(UInt8(ascii: " "))
        line += label.utf8
        line += " :".utf8
        let extra = event.metadata ?? [:]
        let merged = extra.isEmpty ? metadata : metadata.isEmpty ? extra : metadata.merging(extra) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line.append(UInt8(ascii: " "))
            line += key.utf8
            line.append(UInt8(ascii: "="))
            line += value.description.utf8
        }
        line += " [".utf8
        line += event.source.utf8
        line += "] ".utf8
        line += event.message.description.utf8
        line.append(UInt8(ascii: "\n"))
        sink.append(line)
    }

    /// A request's line, in this handler's format, without swift-log's metadata dictionary
    /// (written for every request at `log.level` info).
    static func accessLine(_ line: AccessLogLine, sink: LogSink = .standardError) {
        var out: [UInt8] = []
        out.reserveCapacity(200 + 2 * line.path.utf8.count)
        out += Clock.timestamp().utf8
        out += " info drivesd : duration_ms=".utf8
        out += line.durationMilliseconds.utf8
        out += " method=".utf8
        out += line.method.utf8
        out += " path=".utf8
        out += line.path.utf8
        out += " request_id=".utf8
        out += line.requestID.utf8
        out += " status=".utf8
        out += String(line.status).utf8
        out += " [DriveAPI] ".utf8
        out += line.method.utf8
        out.append(UInt8(ascii: " "))
        out += line.path.utf8
        out.append(UInt8(ascii: " "))
        out += String(line.status).utf8
        out.append(UInt8(ascii: "\n"))
        sink.append(out)
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
