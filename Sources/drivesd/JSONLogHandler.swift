import DriveAPI
import DriveModel
import DriveStore
import Foundation
import Logging

/// One JSON object per line on standard error, through the ``LogSink`` (`log.format: json`): time, level, label, message
/// and the metadata as strings.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: JSONValue] = [
            "time": .string(Timestamp.now()), "level": .string(event.level.rawValue), "label": .string(label),
            "message": .string(event.message.description),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged where object[key] == nil { object[key] = .string(value.description) }
        var line = JSONValue.object(object).jsonBytes
        line.append(UInt8(ascii: "\n"))
        // Whole lines into the sink: lines from concurrent tasks never interleave.
        LogSink.standardError.append(line)
    }
}

extension JSONLogHandler {
    /// A request's line as one JSON object, without swift-log's metadata dictionary.
    static func accessLine(_ line: AccessLogLine) {
        let status = String(line.status)
        var bytes = JSONValue.object([
            "time": .string(Timestamp.now()), "level": .string("info"), "label": .string("drivesd"),
            "message": .string("\(line.method) \(line.path) \(status)"), "method": .string(line.method),
            "path": .string(line.path), "status": .string(status), "request_id": .string(line.requestID),
            "duration_ms": .string(line.durationMilliseconds),
        ]).jsonBytes
        bytes.append(UInt8(ascii: "\n"))
        LogSink.standardError.append(bytes)
    }
}
