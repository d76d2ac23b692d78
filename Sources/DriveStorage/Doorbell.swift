import Synchronization

/// A wake-up signal between a store and a background service: ``wait(upTo:)`` returns when
/// ``ring()`` is called (or was called since the last wait), when the time is up, or when the task
/// is cancelled. Its decisions are ``Doorbell/Machine``, a pure state machine.
public final class Doorbell: Sendable {
    /// What the doorbell decides, without I/O: whether a ring resumes a waiter or is remembered,
    /// whether a wait returns at once or suspends.
    public struct Machine: Sendable, Equatable {
        public enum State: Sendable, Equatable {
            /// Nobody waits and no ring is pending.
            case idle
            /// A ring arrived while nobody waited: the next wait returns at once.
            case rung
            /// A waiter is suspended.
            case waiting
        }

        public enum RingAction: Sendable, Equatable {
            /// Resume the suspended waiter.
            case resumeWaiter
            /// Nothing to resume: the ring is remembered.
            case none
        }

        public enum WaitAction: Sendable, Equatable {
            /// Return without suspending (a ring was pending, or the task is cancelled).
            case returnNow
            /// Suspend until a ring.
            case suspend
        }

        public private(set) var state: State = .idle

        public init() {}

        public mutating func ring() -> RingAction {
            switch state {
            case .waiting:
                state = .idle
                return .resumeWaiter
            case .idle, .rung:
                state = .rung
                return .none
            }
        }

        public mutating func wait(cancelled: Bool) -> WaitAction {
            switch state {
            case .rung:
                state = .idle
                return .returnNow
            case .idle where cancelled:
                return .returnNow
            case .idle:
                state = .waiting
                return .suspend
            case .waiting:
                // One waiter at a time: a second one returns at once rather than strand the first.
                return .returnNow
            }
        }

        /// The wait ended (rung, timed out or cancelled): a ring that raced with the end is dropped,
        /// since the waiter looks at the store anyway.
        public mutating func waitEnded() {
            state = .idle
        }
    }

    private struct Locked {
        var machine = Machine()
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let locked = Mutex(Locked())

    public init() {}

    /// Whether a ring is pending (the next wait returns at once).
    public var isRung: Bool { locked.withLock { $0.machine.state == .rung } }

    public func ring() {
        let waiter = locked.withLock { locked -> CheckedContinuation<Void, Never>? in
            guard locked.machine.ring() == .resumeWaiter else { return nil }
            defer { locked.waiter = nil }
            return locked.waiter
        }
        waiter?.resume()
    }

    public func wait(upTo duration: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await Task.sleep(for: duration)
                    self.ring()
                } catch {}
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let suspended = locked.withLock { locked -> Bool in
                        guard locked.machine.wait(cancelled: Task.isCancelled) == .suspend else { return false }
                        locked.waiter = continuation
                        return true
                    }
                    if !suspended { continuation.resume() }
                }
            } onCancel: {
                self.ring()
            }
            group.cancelAll()
        }
        locked.withLock { $0.machine.waitEnded() }
    }
}
