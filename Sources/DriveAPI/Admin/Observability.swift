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

/// The recent requests (`GET /_drivesd/requests`), newest last, in a bounded ring.
public final class RequestLog: Sendable {
    public struct Entry: Sendable {
        public var time: String
        public var requestID: String
        public var method: String
        public var path: String
        public var query: String
        public var status: Int
        public var requestBytes: Int?
        public var responseBytes: Int?
        public var durationMs: Double
        public var user: String?
    }

    let capacity: Int
    let state = Mutex<(entries: [Entry], next: Int, total: Int)>(([], 0, 0))

    public init(capacity: Int = 1000) {
        self.capacity = max(1, capacity)
    }

    func append(_ entry: Entry) {
        state.withLock { state in
            if state.entries.count < capacity {
                state.entries.append(entry)
            } else {
                state.entries[state.next] = entry
            }
            state.next = (state.next + 1) % capacity
            state.total += 1
        }
    }

    /// The last `limit` entries, oldest first.
    public func recent(_ limit: Int) -> [Entry] {
        state.withLock { state in
            let ordered =
                state.entries.count < capacity
                ? state.entries : Array(state.entries[state.next...] + state.entries[..<state.next])
            return Array(ordered.suffix(max(0, limit)))
        }
    }
}
