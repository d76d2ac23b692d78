/// One committed change of an account's resource, as the store recorded it in the transaction of
/// the change (the event stream of the outbox).
public struct ChangeEvent: Sendable, Equatable {
    /// Grows in commit order.
    public var id: Int64
    public var owner: String
    /// The collection: `drives`, `servers`, `jobs`, `snapshots`, `tags`.
    public var resourceType: String
    public var uuid: String
    /// The resource is gone (its frame carries no `object`).
    public var deleted: Bool

    public init(id: Int64, owner: String, resourceType: String, uuid: String, deleted: Bool) {
        self.id = id
        self.owner = owner
        self.resourceType = resourceType
        self.uuid = uuid
        self.deleted = deleted
    }
}

/// The change events of committed transactions, in commit order.
public protocol EventRepository: Sendable {
    /// The id of the newest event committed (0 when none).
    func latestEventID() async throws -> Int64
    /// Events with an id above `id`, oldest first, at most `limit`.
    func events(after id: Int64, limit: Int) async throws -> [ChangeEvent]
    /// Deletes the events up to `id` (published); returns how many went.
    @discardableResult
    func deleteEvents(through id: Int64) async throws -> Int
    /// Counts subscribers in (`delta` > 0) or out: the store records events only while the count
    /// is above zero. Returns once committed: every later commit is recorded.
    func addListeners(_ delta: Int) async throws
    /// Forgets the subscribers a previous run of the daemon counted (at start).
    func resetListeners() async throws
}
