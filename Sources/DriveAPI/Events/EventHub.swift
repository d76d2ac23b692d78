import DriveModel
import DriveStorage
import Foundation
import Logging
import NIOCore
import DriveWorker
import ServiceLifecycle
import Synchronization

/// Publishes the change events of commits to websocket subscribers (contract §3, decision 19).
///
/// The store records an event row in the transaction of every change (triggers, whoever made
/// the change: a request, the worker, a cascade, an admin reset, another process), so an event
/// exists if and only if its change committed. After each commit the store rings
/// ``StoreSignals/events``; the hub reads the rows it has not published yet, in commit order,
/// renders each resource as `GET` would (so a client that GETs on receipt sees at least that
/// state: W2), and pushes one text frame per changed resource per batch (de-duplicated, in the
/// order of each resource's last change) to the subscribers of that account and to the admin's.
/// Published rows are deleted.
///
/// A subscriber has a bounded queue: when it overflows the subscription ends with
/// ``EventSubscription/didOverflow`` set (the socket is closed with a policy code). Writers never
/// wait for subscribers, and memory stays bounded whatever a client does.
public final class EventHub: Service, Sendable {
    let events: any EventRepository
    let stores: Stores
    let doorbell: Doorbell
    /// Rung when a subscriber comes (the hub sleeps on it while nobody listens).
    let subscribed = Doorbell()
    let logger: Logger
    /// Frames a subscriber may have waiting.
    public let queueLimit: Int
    let batch: Int
    let state = Mutex(State())

    struct State {
        var subscribers: [Int: EventSubscription] = [:]
        var nextID = 0
        /// The newest event published (or skipped when nobody listened).
        var cursor: Int64?
        var pruned: Int64 = 0
        var lastPrune = ContinuousClock.now
        var published = 0
        var closedSlow = 0
        var running = false
    }

    public init(stores: Stores, logger: Logger, queueLimit: Int = 1024, batch: Int = 1000) {
        self.events = stores.events
        self.stores = stores
        self.doorbell = stores.signals.events
        self.logger = logger
        self.queueLimit = max(1, queueLimit)
        self.batch = max(1, batch)
    }

    /// Figures for `/_drivesd/metrics`.
    public struct Statistics: Sendable {
        public var subscribers: Int
        public var published: Int
        public var closedSlow: Int
    }

    public var statistics: Statistics {
        state.withLock { Statistics(subscribers: $0.subscribers.count, published: $0.published, closedSlow: $0.closedSlow) }
    }

    /// A new subscriber to `owner`'s changes (nil: every account's, for the admin). It receives
    /// every change committed after this call returns (W6): the store counts it first, and
    /// records events only while it counts subscribers. Cancel it when the socket goes.
    public func subscribe(owner: String?) async throws -> EventSubscription {
        try await events.addListeners(1)
        // A hub that was idle starts after what is recorded now (read after the count committed:
        // what follows is this subscriber's).
        let latest = try await events.latestEventID()
        let subscription = state.withLock { state in
            if state.cursor == nil { state.cursor = latest }
            state.nextID += 1
            let subscription = EventSubscription(id: state.nextID, owner: owner, limit: queueLimit, hub: self)
            state.subscribers[subscription.id] = subscription
            return subscription
        }
        subscribed.ring()
        return subscription
    }

    /// At start: forgets the subscribers a previous run counted (a crash left them counted).
    public func prepare() async throws {
        try await events.resetListeners()
    }

    func remove(_ id: Int) {
        let removed = state.withLock { $0.subscribers.removeValue(forKey: id) } != nil
        guard removed else { return }
        let events = self.events
        let logger = self.logger
        Task {
            do {
                try await events.addListeners(-1)
            } catch {
                logger.error("could not count a subscriber out", metadata: ["error": "\(error)"])
            }
        }
    }

    public func run() async throws {
        state.withLock { $0.running = true }
        defer {
            let subscribers = state.withLock { state in
                state.running = false
                return Array(state.subscribers.values)
            }
            for subscriber in subscribers { subscriber.finish() }
        }
        await withGracefulShutdownHandler {
            while !Task.isCancelledOrShuttingDown {
                // Nobody listens: commits are none of the hub's business (the store records no
                // events then). It sleeps until a subscriber comes, and the next one starts the
                // cursor afresh.
                let idle = state.withLock { state -> Bool in
                    guard state.subscribers.isEmpty else { return false }
                    state.cursor = nil
                    return true
                }
                if idle {
                    await subscribed.wait(upTo: .seconds(1))
                    continue
                }
                do {
                    try await pump()
                } catch {
                    logger.error("publishing change events failed", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(200))
                }
                await doorbell.wait(upTo: .seconds(1))
            }
        } onGracefulShutdown: {
            self.doorbell.ring()
            self.subscribed.ring()
        }
    }

    /// Publishes every event committed so far; returns how many frames went out. The service
    /// calls it after each commit; tests call it to step the hub.
    @discardableResult
    public func pump() async throws -> Int {
        var cursor: Int64
        if let current = state.withLock({ $0.cursor }) {
            cursor = current
        } else {
            // At start nobody listens yet: what was recorded before is nobody's news.
            cursor = try await events.latestEventID()
            state.withLock { $0.cursor = cursor }
        }
        var sent = 0
        while true {
            if state.withLock({ $0.subscribers.isEmpty }) {
                let latest = try await events.latestEventID()
                // A subscriber that came meanwhile must not miss what follows its arrival: then
                // the cursor stays, and the next pass publishes from it.
                let skipped = state.withLock { state -> Bool in
                    guard state.subscribers.isEmpty else { return false }
                    state.cursor = max(state.cursor ?? 0, latest)
                    return true
                }
                if skipped {
                    cursor = latest
                    break
                }
            }
            let page = try await events.events(after: cursor, limit: batch)
            guard let last = page.last else { break }
            sent += await publish(page)
            cursor = last.id
            state.withLock { $0.cursor = cursor }
            if page.count < batch { break }
        }
        try await prune(through: cursor)
        return sent
    }

    /// Deletes published events, at most once a second unless many piled up.
    func prune(through cursor: Int64) async throws {
        let now = ContinuousClock.now
        let due = state.withLock { state -> Bool in
            guard cursor > state.pruned, cursor - state.pruned >= 10_000 || now - state.lastPrune >= .seconds(1) else { return false }
            state.lastPrune = now
            return true
        }
        guard due else { return }
        try await events.deleteEvents(through: cursor)
        state.withLock { $0.pruned = max($0.pruned, cursor) }
    }

    struct ResourceKey: Hashable {
        let type: String
        let uuid: String
    }

    func publish(_ page: [ChangeEvent]) async -> Int {
        var last: [ResourceKey: Int] = [:]
        for (i, event) in page.enumerated() { last[ResourceKey(type: event.resourceType, uuid: event.uuid)] = i }
        var sent = 0
        for (i, event) in page.enumerated() where last[ResourceKey(type: event.resourceType, uuid: event.uuid)] == i {
            let listeners = state.withLock { state in
                state.subscribers.values.filter { $0.owner == nil || $0.owner == event.owner }
            }
            if listeners.isEmpty { continue }
            var object: [UInt8]?
            if !event.deleted {
                object = await render(event)
                // Gone since: its delete event follows.
                if object == nil { continue }
            }
            let frame = Self.frame(event, object: object, owner: nil)
            var adminFrame: ByteBuffer?
            for listener in listeners {
                let bytes: ByteBuffer
                if listener.owner == nil {
                    if adminFrame == nil { adminFrame = Self.frame(event, object: object, owner: event.owner) }
                    bytes = adminFrame!
                } else {
                    bytes = frame
                }
                if !listener.deliver(bytes) {
                    logger.notice(
                        "websocket subscriber too slow: closed", metadata: ["subscriber": "\(listener.id)", "queue": "\(queueLimit)"])
                    state.withLock { $0.closedSlow += 1 }
                    remove(listener.id)
                }
            }
            sent += 1
        }
        state.withLock { $0.published += sent }
        return sent
    }

    /// The resource as `GET` renders it, or nil when it is gone.
    func render(_ event: ChangeEvent) async -> [UInt8]? {
        do {
            switch event.resourceType {
            case "drives": return try await stores.drives.drive(owner: event.owner, uuid: event.uuid).detailJSONBytes
            case "servers": return try await stores.servers.server(owner: event.owner, uuid: event.uuid).detailJSON.jsonBytes
            case "jobs": return try await stores.jobs.job(owner: event.owner, uuid: event.uuid).json.jsonBytes
            case "snapshots": return try await stores.snapshots.snapshot(owner: event.owner, uuid: event.uuid).json.jsonBytes
            case "tags": return try await stores.tags.tag(owner: event.owner, uuid: event.uuid).json.jsonBytes
            default: return nil
            }
        } catch {
            return nil
        }
    }

    /// `{"resource_type": …, "resource_uri": "/api/2.0/<type>/<uuid>/", "object": …}`; no
    /// `object` for a deletion; the admin's frames also name the account (`owner`).
    static func frame(_ event: ChangeEvent, object: [UInt8]?, owner: String?) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(96 + (object?.count ?? 0))
        buffer.writeString("{\"resource_type\":\"\(event.resourceType)\",\"resource_uri\":\"/api/2.0/\(event.resourceType)/\(event.uuid)/\"")
        if let owner { buffer.writeString(",\"owner\":\"\(owner)\"") }
        if let object {
            buffer.writeString(",\"object\":")
            buffer.writeBytes(object)
        }
        buffer.writeString("}")
        return buffer
    }
}

/// One subscriber's bounded queue of frames. The socket's writer takes everything queued at
/// once (``next()``), so that a burst goes out in one flush rather than one per frame.
public final class EventSubscription: Sendable {
    public let id: Int
    /// The account whose changes it receives; nil: every account's (admin).
    public let owner: String?
    let limit: Int
    let hub: EventHub
    private let queue = Mutex(Queue())

    struct Queue {
        var frames: [ByteBuffer] = []
        var waiter: CheckedContinuation<[ByteBuffer], Never>?
        var finished = false
        var overflowed = false
    }

    init(id: Int, owner: String?, limit: Int, hub: EventHub) {
        self.id = id
        self.owner = owner
        self.limit = limit
        self.hub = hub
    }

    /// Whether the subscription ended because its queue overflowed.
    public var didOverflow: Bool { queue.withLock { $0.overflowed } }

    /// Queues a frame; false when the queue was full: the subscription is then over and what it
    /// held is dropped at once.
    func deliver(_ frame: ByteBuffer) -> Bool {
        let (waiter, accepted) = queue.withLock { queue -> (CheckedContinuation<[ByteBuffer], Never>?, Bool) in
            if queue.finished { return (nil, true) }
            if let waiter = queue.waiter {
                queue.waiter = nil
                return (waiter, true)
            }
            guard queue.frames.count < limit else {
                queue.overflowed = true
                queue.finished = true
                queue.frames = []
                return (nil, false)
            }
            queue.frames.append(frame)
            return (nil, true)
        }
        waiter?.resume(returning: [frame])
        return accepted
    }

    /// Everything queued, oldest first, waiting for a frame when none is; empty once the
    /// subscription is over (overflowed, cancelled, the hub stopped, or the task cancelled).
    public func next() async -> [ByteBuffer] {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[ByteBuffer], Never>) in
                let ready = queue.withLock { queue -> [ByteBuffer]? in
                    if !queue.frames.isEmpty {
                        defer { queue.frames = [] }
                        return queue.frames
                    }
                    if queue.finished || Task.isCancelled { return [] }
                    queue.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    /// Ends the subscription: a waiting writer gets what is queued (or nothing).
    func finish() {
        let waiter = queue.withLock { queue -> CheckedContinuation<[ByteBuffer], Never>? in
            queue.finished = true
            defer { queue.waiter = nil }
            return queue.waiter
        }
        waiter?.resume(returning: [])
    }

    /// Ends the subscription (the socket went).
    public func cancel() {
        finish()
        hub.remove(id)
    }
}
