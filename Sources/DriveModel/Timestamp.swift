import Foundation

/// Timestamps as the API writes them: ISO-8601 with microseconds and `+00:00` (decision 12).
public enum Timestamp {
    public static func string(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        let seconds = t.rounded(.down)
        let micros = Int(((t - seconds) * 1_000_000).rounded(.down))
        var tm = tm()
        var time = time_t(seconds)
        gmtime_r(&time, &tm)
        // `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`, digits written in place (this runs for every
        // request's log entry and every rendered change).
        return String(unsafeUninitializedCapacity: 32) { buffer in
            func put(_ value: Int, _ digits: Int, at offset: Int) {
                var v = value
                for i in stride(from: offset + digits - 1, through: offset, by: -1) {
                    buffer[i] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
            }
            put(Int(tm.tm_year) + 1900, 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(Int(tm.tm_mon) + 1, 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(Int(tm.tm_mday), 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(Int(tm.tm_hour), 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(Int(tm.tm_min), 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(Int(tm.tm_sec), 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(min(max(micros, 0), 999_999), 6, at: 20)
            for (i, c) in "+00:00".utf8.enumerated() { buffer[26 + i] = c }
            return 32
        }
    }

    public static func now() -> String { string(Date()) }
}

extension Duration {
    /// The duration in seconds, as a floating-point number (metrics, logs, retention periods).
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
