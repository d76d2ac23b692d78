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
        let y = Int(tm.tm_year) + 1900, mo = Int(tm.tm_mon) + 1, d = Int(tm.tm_mday)
        let h = Int(tm.tm_hour), mi = Int(tm.tm_min), s = Int(tm.tm_sec)
        func pad(_ v: Int, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(micros, 6))+00:00"
    }

    public static func now() -> String { string(Date()) }
}
