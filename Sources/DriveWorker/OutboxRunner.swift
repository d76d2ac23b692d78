import DriveStorage
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Carries out the effects of the after-commit outbox: at start (whatever a crash or `kill -9`
/// left), and whenever the store rings ``StoreSignals/outbox`` after a commit that recorded one.
/// An effect is deleted only once done; a failing one is retried on later passes, after the
/// others. Effects are idempotent, so one carried out twice (done, then the process died before
/// the delete) does no harm.
public final class OutboxRunner: Service, Sendable {
    /// Carries out one effect; throws to have it retried.
    public typealias Handler = @Sendable (OutboxEntry) async throws -> Void

    let outbox: any OutboxRepository
    let doorbell: Doorbell
    let handlers: [String: Handler]
    let logger: Logger
    /// Upper bound on one sleep: failed effects are retried at least this often.
    let maximumSleep: Duration
    let state = Mutex(State())

    struct State {
        var running = false
        var done = 0
        var failures = 0
    }

    public init(
        outbox: any OutboxRepository, doorbell: Doorbell, handlers: [String: Handler], logger: Logger,
        maximumSleep: Duration = .seconds(5)
    ) {
        self.outbox = outbox
        self.doorbell = doorbell
        self.handlers = handlers
        self.logger = logger
        self.maximumSleep = maximumSleep
    }

    /// Effects carried out since start.
    public var doneCount: Int { state.withLock { $0.done } }

    /// Failed attempts since start.
    public var failureCount: Int { state.withLock { $0.failures } }

    /// Carries out every pending effect once; returns how many were done. Tests call it to step
    /// the runner.
    @discardableResult
    public func drain(batch: Int = 100) async throws -> Int {
        var done = 0
        var skipped = Set<Int64>()
        while true {
            let entries = try await outbox.pending(limit: batch + skipped.count).filter { !skipped.contains($0.id) }
            if entries.isEmpty { break }
            for entry in entries {
                guard let handler = handlers[entry.effect] else {
                    // An effect this build does not know (a newer release wrote it): leave it.
                    logger.warning("no handler for outbox effect", metadata: ["effect": "\(entry.effect)", "id": "\(entry.id)"])
                    skipped.insert(entry.id)
                    continue
                }
                do {
                    try await handler(entry)
                    try await outbox.markDone(entry.id)
                    done += 1
                } catch {
                    skipped.insert(entry.id)
                    state.withLock { $0.failures += 1 }
                    logger.error(
                        "outbox effect failed", metadata: ["effect": "\(entry.effect)", "id": "\(entry.id)", "error": "\(error)"])
                    try? await outbox.markFailed(entry.id, error: "\(error)")
                }
            }
        }
        if done > 0 { state.withLock { $0.done += done } }
        return done
    }

    public func run() async throws {
        state.withLock { $0.running = true }
        defer { state.withLock { $0.running = false } }
        await withGracefulShutdownHandler {
            while !Task.isCancelledOrShuttingDown {
                do {
                    try await drain()
                } catch {
                    logger.error("outbox pass failed", metadata: ["error": "\(error)"])
                }
                await doorbell.wait(upTo: maximumSleep)
            }
        } onGracefulShutdown: {
            self.doorbell.ring()
        }
    }
}
