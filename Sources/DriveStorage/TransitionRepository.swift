import DriveLifecycle
import Foundation

/// How the transitions of one operation complete, the way moto's state manager works:
/// `immediate` (the worker's next tick), `time` (after a fixed number of seconds) or `manual`
/// (held until advanced). Operations without a mode follow the configured durations.
public enum TransitionMode: Sendable, Equatable {
    case immediate
    case time(seconds: Double)
    case manual

    public var name: String {
        switch self {
        case .immediate: "immediate"
        case .time: "time"
        case .manual: "manual"
        }
    }

    /// The due time of a held (manual) transition: far in the future, until advanced.
    public static let heldDue: Double = 1e15

    /// When a transition started at `start` (unix seconds) falls due under `mode`, given the
    /// configured (scaled) duration.
    public static func due(_ mode: TransitionMode?, start: Double, configured: Double) -> Double {
        switch mode {
        case nil: start + configured
        case .immediate: start
        case .time(let seconds): start + max(0, seconds)
        case .manual: heldDue
        }
    }
}

/// The one pipeline of pending transitions, for every kind of resource: rows with a due time that
/// the worker completes through the state machine, also after a restart. A store rings
/// ``StoreSignals/transitions`` after every commit that scheduled or released one.
public protocol TransitionRepository: Sendable {
    /// Completes the transitions due at `now`, at most `limit` of them.
    func completeDue(now: Date, limit: Int) async throws -> CompletedTransitions
    /// When the next transition falls due (unix seconds), or nil when none is pending.
    func nextDue() async throws -> Double?
    /// How many transitions are pending.
    func pendingCount() async throws -> Int
    /// The mode of `operation`, nil when it follows the configured durations.
    func mode(_ operation: TransitionOperation) -> TransitionMode?
    /// Every mode set.
    var modes: [TransitionOperation: TransitionMode] { get }
    /// Sets (or, with nil, clears) the mode of `operation`, durably.
    func setMode(_ operation: TransitionOperation, _ mode: TransitionMode?) async throws
    /// Releases held transitions (all, or those of one operation, or of one resource): they
    /// complete on the worker's next tick. Returns how many were released.
    func advance(operation: TransitionOperation?, uuid: String?, now: Date) async throws -> Int
}

/// What one pass of the pipeline did.
public struct CompletedTransitions: Sendable, Equatable {
    /// Transitions taken off the pipeline (completed, or dropped as stale).
    public var processed: Int
    /// The uuids of the resources whose status moved.
    public var moved: [String]

    public init(processed: Int = 0, moved: [String] = []) {
        self.processed = processed
        self.moved = moved
    }
}

/// One effect recorded in the transaction of the change that calls for it, carried out after the
/// commit (the transactional outbox).
public struct OutboxEntry: Sendable, Equatable {
    public var id: Int64
    /// What to do: the name a handler is registered under.
    public var effect: String
    /// The effect's arguments, as JSON text.
    public var payload: String
    /// How many times carrying it out failed.
    public var attempts: Int

    public init(id: Int64, effect: String, payload: String, attempts: Int = 0) {
        self.id = id
        self.effect = effect
        self.payload = payload
        self.attempts = attempts
    }
}

/// The after-commit outbox. Effects must be idempotent: an effect carried out but not yet marked
/// done when the process died runs again at the next start.
public protocol OutboxRepository: Sendable {
    /// The oldest effects not yet carried out.
    func pending(limit: Int) async throws -> [OutboxEntry]
    /// Forgets an effect carried out.
    func markDone(_ id: Int64) async throws
    /// Records a failed attempt (the effect is tried again later).
    func markFailed(_ id: Int64, error: String) async throws
}
