import DriveStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The background service that completes due status transitions.
///
/// Pending transitions are rows with a due time, so the worker keeps no state of its own: after a
/// restart it finds the same rows and finishes them. It sleeps until the next due time, or until
/// ``wake()`` says a new transition was scheduled.
public final class TransitionWorker: Service, Sendable {
    let repository: DriveRepository
    let servers: ServerRepository
    let jobs: JobRepository
    /// Finished jobs older than this are purged.
    let jobRetention: Duration
    let logger: Logger
    /// Upper bound on one sleep, so a clock change or a missed wake-up costs at most this long.
    let maximumSleep: Duration
    let doorbell = Doorbell()
    let state = Mutex(State())

    struct State {
        var running = false
        var completed = 0
        var lastError: String?
        var lastPurge: Date = .distantPast
    }

    public init(
        repository: DriveRepository, servers: ServerRepository, jobs: JobRepository, jobRetention: Duration,
        logger: Logger, maximumSleep: Duration = .seconds(1)
    ) {
        self.repository = repository
        self.servers = servers
        self.jobs = jobs
        self.jobRetention = jobRetention
        self.logger = logger
        self.maximumSleep = maximumSleep
    }

    /// Tells the worker a transition was scheduled; it looks again at once.
    public func wake() {
        doorbell.ring()
    }

    /// Whether the run loop is active (for readiness).
    public var isRunning: Bool { state.withLock { $0.running } }

    /// How many transitions this process has completed.
    public var completedCount: Int { state.withLock { $0.completed } }

    /// Completes every transition due now; returns the drives it moved. Also used by tests to
    /// step the worker deterministically.
    @discardableResult
    public func tick(now: Date = Date()) async throws -> [String] {
        var moved: [String] = []
        while true {
            let batch = try await repository.completeDueTransitions(now: now, limit: 500)
            moved += batch
            if batch.count < 500 { break }
        }
        moved += try await servers.completeDueTransitions(now: now)
        if !moved.isEmpty {
            state.withLock { $0.completed += moved.count }
            logger.debug("completed transitions", metadata: ["count": "\(moved.count)"])
        }
        // Purging is cheap (an indexed delete) but needs no more than one pass a minute.
        let purgeDue = state.withLock { now.timeIntervalSince($0.lastPurge) >= 60 }
        if purgeDue {
            try await purgeJobs(now: now)
        }
        return moved
    }

    /// Deletes finished jobs older than the retention period, with their drive refs.
    @discardableResult
    public func purgeJobs(now: Date = Date()) async throws -> Int {
        let seconds = Double(jobRetention.components.seconds) + Double(jobRetention.components.attoseconds) / 1e18
        let purged = try await jobs.purge(finishedBefore: now.addingTimeInterval(-seconds))
        state.withLock { $0.lastPurge = now }
        if purged > 0 { logger.info("purged finished jobs", metadata: ["count": "\(purged)"]) }
        return purged
    }

    public func run() async throws {
        state.withLock { $0.running = true }
        defer { state.withLock { $0.running = false } }
        logger.info("transition worker started")
        try await withGracefulShutdownHandler {
            try await loop()
        } onGracefulShutdown: {
            self.doorbell.ring()
        }
        logger.info("transition worker stopped")
    }

    func loop() async throws {
        while !Task.isCancelledOrShuttingDown {
            var sleep = maximumSleep
            do {
                try await tick()
                let nextDrive = try await repository.nextTransitionDue()
                let nextServer = try await servers.nextTransitionDue()
                if let next = [nextDrive, nextServer].compactMap({ $0 }).min() {
                    let wait = next - Date().timeIntervalSince1970
                    sleep = min(sleep, .milliseconds(Int64(min(max(0, wait), 3600) * 1000) + 1))
                }
                state.withLock { $0.lastError = nil }
            } catch {
                state.withLock { $0.lastError = "\(error)" }
                logger.error("transition worker failed a tick", metadata: ["error": "\(error)"])
            }
            await doorbell.wait(upTo: sleep)
        }
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool {
        Task.isCancelled || Task.isShuttingDownGracefully
    }
}

/// A wake-up signal: ``wait(upTo:)`` returns when ``ring()`` is called (or was called since the
/// last wait), when the time is up, or when the task is cancelled.
final class Doorbell: Sendable {
    struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    let state = Mutex(State())

    func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.rung = true
            return nil
        }
        waiter?.resume()
    }

    func wait(upTo duration: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await Task.sleep(for: duration)
                    self.ring()
                } catch {}
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.rung || Task.isCancelled {
                            state.rung = false
                            return true
                        }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                self.ring()
            }
            group.cancelAll()
        }
        state.withLock { $0.rung = false }
    }
}
