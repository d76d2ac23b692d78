import Foundation
import Synchronization

/// Slows down guessing: failed logins are counted per (account, client address); from the
/// `burst`-th failure within `window`, that pair is refused without checking the password for a
/// back-off that doubles with each further failure (1 s, 2 s, 4 s, … up to `maximumBackoff`).
/// The default burst, 20 a minute, leaves room for test suites that check their wrong-password
/// paths a few times against one account; a burst of 0 turns throttling off.
/// A success clears the count; so does a quiet `window`. Other addresses, and other accounts
/// from the same address, are not affected. Bounded: at most `capacity` pairs are tracked.
public final class LoginThrottle: Sendable {
    public let burst: Int
    public let window: TimeInterval
    public let maximumBackoff: TimeInterval
    let capacity: Int
    let entries = Mutex<[String: Failures]>([:])
    /// How many keys have failures recorded (a lock-free look before the map).
    let tracked = Atomic<Int>(0)

    struct Failures {
        var count: Int
        var first: Date
        var last: Date
    }

    public init(burst: Int = 20, window: TimeInterval = 60, maximumBackoff: TimeInterval = 60, capacity: Int = 100_000) {
        self.burst = max(0, burst)
        self.window = window
        self.maximumBackoff = maximumBackoff
        self.capacity = max(1, capacity)
    }

    /// Whether any key has failures recorded: when not, nothing is throttled.
    public var isEngaged: Bool { tracked.load(ordering: .relaxed) > 0 }

    /// Seconds until `key` may try again, or nil when it may now.
    public func retryAfter(_ key: String, now: Date) -> Int? {
        entries.withLock { entries -> Int? in
            guard let failures = entries[key] else { return nil }
            if now.timeIntervalSince(failures.last) > window {
                entries[key] = nil
                tracked.store(entries.count, ordering: .relaxed)
                return nil
            }
            guard failures.count >= burst else { return nil }
            let backoff = min(maximumBackoff, pow(2, Double(failures.count - burst)))
            let left = failures.last.addingTimeInterval(backoff).timeIntervalSince(now)
            return left > 0 ? Int(left.rounded(.up)) : nil
        }
    }

    public func failed(_ key: String, now: Date) {
        guard burst > 0 else { return }
        entries.withLock { entries in
            if var failures = entries[key], now.timeIntervalSince(failures.last) <= window {
                failures.count += 1
                failures.last = now
                entries[key] = failures
                return
            }
            if entries.count >= capacity {
                entries = entries.filter { now.timeIntervalSince($0.value.last) <= window }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = Failures(count: 1, first: now, last: now)
            tracked.store(entries.count, ordering: .relaxed)
        }
    }

    public func succeeded(_ key: String) {
        entries.withLock { entries in
            if entries.removeValue(forKey: key) != nil { tracked.store(entries.count, ordering: .relaxed) }
        }
    }
}
