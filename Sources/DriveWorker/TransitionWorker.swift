import DriveModel
import DriveStorage
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The background service that completes due transitions of every kind of resource.
///
/// Pending transitions are rows with a due time, so the worker keeps no state of its own: after a
/// restart it finds the same rows and finishes them. It sleeps until the next due time, or until
/// the store rings ``StoreSignals/transitions`` after a commit that scheduled one.
public final class TransitionWorker: Service, Sendable {
    let transitions: any TransitionRepository
    let jobs: any JobRepository
    let doorbell: Doorbell
    /// Finished jobs older than this are purged.
    let jobRetention: Duration
    let logger: Logger
    /// Upper bound on one sleep, so a clock change or a missed wake-up costs at most this long.
    let maximumSleep: Duration
    /// How many transitions one write transaction completes.
    let batchSize: Int
    let state = Mutex(State())

    struct State {
        var running = false
        var completed = 0
        var lastError: String?
        var lastPurge: Date = .distantPast
    }

    public init(
        transitions: any TransitionRepository, jobs: any JobRepository, doorbell: Doorbell, jobRetention: Duration,
        logger: Logger, maximumSleep: Duration = .seconds(1), batchSize: Int = 500
    ) {
        self.transitions = transitions
        self.jobs = jobs
        self.doorbell = doorbell
        self.jobRetention = jobRetention
        self.logger = logger
        self.maximumSleep = maximumSleep
        self.batchSize = max(1, batchSize)
    }

    /// Whether the run loop is active (for readiness).
    public var isRunning: Bool { state.withLock { $0.running } }

    /// How many transitions this process has completed.
    public var completedCount: Int { state.withLock { $0.completed } }

    /// Completes every transition due now; returns the resources it moved. Also used by tests to
    /// step the worker deterministically.
    @discardableResult
    public func tick(now: Date = Date()) async throws -> [String] {
        var moved: [String] = []
        while true {
            let pass = try await transitions.completeDue(now: now, limit: batchSize)
            moved += pass.moved
            if pass.processed < batchSize { break }
        }
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
        let purged = try await jobs.purge(finishedBefore: now.addingTimeInterval(-jobRetention.seconds))
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
                if let next = try await transitions.nextDue() {
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
    public static var isCancelledOrShuttingDown: Bool {
        Task.isCancelled || Task.isShuttingDownGracefully
    }
}
