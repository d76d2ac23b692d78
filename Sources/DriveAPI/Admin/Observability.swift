import DriveModel
import Foundation
import Synchronization

/// Request counts and latency histograms by route, method and status, in Prometheus text form.
public final class MetricsRegistry: Sendable {
    struct Key: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    struct Histogram {
        var buckets: [Int]
        var sum: Double = 0
        var count: Int = 0
    }

    /// Upper bounds (seconds) of the latency buckets.
    static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    let state = Mutex<[Key: Histogram]>([:])

    public init() {}

    func observe(route: String, method: String, status: Int, seconds: Double) {
        state.withLock { state in
            let key = Key(route: route, method: method, status: status)
            var h = state[key] ?? Histogram(buckets: Array(repeating: 0, count: Self.bounds.count))
            for (i, bound) in Self.bounds.enumerated() where seconds <= bound { h.buckets[i] += 1 }
            h.sum += seconds
            h.count += 1
            state[key] = h
        }
    }

    /// The HTTP metrics, Prometheus text exposition format.
    func render() -> String {
        let snapshot = state.withLock { $0 }
        let keys = snapshot.keys.sorted { ($0.route, $0.method, $0.status) < ($1.route, $1.method, $1.status) }
        var out = "# HELP drivesd_http_requests_total HTTP requests by route, method and status.\n"
        out += "# TYPE drivesd_http_requests_total counter\n"
        for key in keys {
            out += "drivesd_http_requests_total{\(labels(key))} \(snapshot[key]!.count)\n"
        }
        out += "# HELP drivesd_http_request_duration_seconds HTTP request latency by route, method and status.\n"
        out += "# TYPE drivesd_http_request_duration_seconds histogram\n"
        for key in keys {
            let h = snapshot[key]!
            for (i, bound) in Self.bounds.enumerated() {
                out += "drivesd_http_request_duration_seconds_bucket{\(labels(key)),le=\"\(bound)\"} \(h.buckets[i])\n"
            }
            out += "drivesd_http_request_duration_seconds_bucket{\(labels(key)),le=\"+Inf\"} \(h.count)\n"
            out += "drivesd_http_request_duration_seconds_sum{\(labels(key))} \(h.sum)\n"
            out += "drivesd_http_request_duration_seconds_count{\(labels(key))} \(h.count)\n"
        }
        return out
    }

    func labels(_ key: Key) -> String {
        "route=\"\(Self.escape(key.route))\",method=\"\(key.method)\",status=\"\(key.status)\""
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// The recent requests (`GET /_drivesd/requests`), newest last, in a bounded ring; and how many
/// requests (and errors) each of the last minutes saw.
public final class RequestLog: Sendable {
    public struct Entry: Sendable {
        /// When the request was answered; `time` is its text, made only when the entry is read
        /// (the log keeps every request, and is read rarely).
        public var date: Date
        public var requestID: String
        public var method: String
        public var path: String
        public var query: String
        public var status: Int
        public var requestBytes: Int?
        public var responseBytes: Int?
        public var durationMs: Double
        /// The account the request was authenticated as (its email), nil for none.
        public var user: String?
        /// Position in the log since start (1, 2, ...): `?after=` pages on it.
        public var seq: Int = 0

        /// `date` as the API writes times (`2026-11-29T12:00:00.123456+00:00`, see `Timestamp`).
        public var time: String { Timestamp.string(date) }
    }

    /// One minute's requests.
    public struct Minute: Sendable, Equatable {
        /// Unix minute (seconds / 60).
        public var minute: Int
        public var requests: Int = 0
        public var clientErrors: Int = 0
        public var serverErrors: Int = 0
    }

    /// How many minutes of rates are kept.
    static let minutesKept = 15

    let capacity: Int
    struct State {
        var entries: [Entry] = []
        var next = 0
        var total = 0
        var minutes: [Minute] = []
    }
    let state = Mutex<State>(State())

    public init(capacity: Int = 1000) {
        self.capacity = max(1, capacity)
    }

    func append(_ entry: Entry) {
        let minute = Int(entry.date.timeIntervalSince1970 / 60)
        state.withLock { state in
            var entry = entry
            state.total += 1
            entry.seq = state.total
            if state.entries.count < capacity {
                state.entries.append(entry)
            } else {
                state.entries[state.next] = entry
            }
            state.next = (state.next + 1) % capacity
            // The rates are the API's: the admin API and the console's own requests stay out.
            guard !entry.path.hasPrefix("/_drivesd/") else { return }
            if state.minutes.last?.minute != minute {
                state.minutes.append(Minute(minute: minute))
                if state.minutes.count > Self.minutesKept { state.minutes.removeFirst(state.minutes.count - Self.minutesKept) }
            }
            let last = state.minutes.count - 1
            state.minutes[last].requests += 1
            if entry.status >= 500 {
                state.minutes[last].serverErrors += 1
            } else if entry.status >= 400 {
                state.minutes[last].clientErrors += 1
            }
        }
    }

    /// The last `limit` entries, oldest first.
    public func recent(_ limit: Int) -> [Entry] {
        recent(limit, where: { _ in true })
    }

    /// The last `limit` entries that pass `filter`, oldest first.
    public func recent(_ limit: Int, where filter: (Entry) -> Bool) -> [Entry] {
        guard limit > 0 else { return [] }
        let ordered = state.withLock { state in
            state.entries.count < capacity
                ? state.entries : Array(state.entries[state.next...] + state.entries[..<state.next])
        }
        var out: [Entry] = []
        for entry in ordered.reversed() where filter(entry) {
            out.append(entry)
            if out.count == limit { break }
        }
        return out.reversed()
    }

    /// The last `minutes` minutes up to `now`, oldest first, with zeros for minutes without
    /// requests.
    public func rates(minutes: Int, now: Date = Date()) -> [Minute] {
        let current = Int(now.timeIntervalSince1970 / 60)
        let kept = state.withLock { $0.minutes }
        let byMinute = Dictionary(kept.map { ($0.minute, $0) }, uniquingKeysWith: { a, _ in a })
        return ((current - max(1, minutes) + 1)...current).map { byMinute[$0] ?? Minute(minute: $0) }
    }
}

/// What the inner layers tell the outermost middleware about a request (which account it was
/// authenticated as), for the request log. One per request; written by one task at a time.
final class RequestNotes: Sendable {
    let account = Mutex<String?>(nil)
}
