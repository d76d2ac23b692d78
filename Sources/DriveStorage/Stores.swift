/// Wake-up signals a store gives after its commits: the background services sleep on them
/// instead of being told by the request handlers.
public struct StoreSignals: Sendable {
    /// Rung after a commit that scheduled, released or re-timed a transition.
    public let transitions: Doorbell
    /// Rung after a commit that recorded an after-commit effect.
    public let outbox: Doorbell
    /// Rung after every commit that changed a row (change events may be waiting).
    public let events: Doorbell

    public init(transitions: Doorbell = Doorbell(), outbox: Doorbell = Doorbell(), events: Doorbell = Doorbell()) {
        self.transitions = transitions
        self.outbox = outbox
        self.events = events
    }
}

/// Every store the API and the background services use, as protocols: the seam between them and
/// a storage implementation (SQLite today). A composition root builds one.
public struct Stores: Sendable {
    public var drives: any DriveRepository
    public var licenses: any LicenseRepository
    public var jobs: any JobRepository
    public var servers: any ServerRepository
    public var tags: any TagRepository
    /// IPs and VLANs: what tags and server NICs point at besides drives and servers.
    public var networks: any NetworkRepository
    public var library: any LibraryRepository
    public var accounts: any AccountRepository
    public var admin: any AdminRepository
    public var transitions: any TransitionRepository
    public var outbox: any OutboxRepository
    /// What drives hold: the map of their content images.
    public var content: any ContentRepository
    /// Snapshots of drives.
    public var snapshots: any SnapshotRepository
    /// The change events of commits (the websocket's source).
    public var events: any EventRepository
    /// Named states: saved environments, loaded back while the daemon runs.
    public var states: any StateRepository
    /// Moves on every commit that may change an answer (the response cache's validity).
    public var changes: CommitGeneration
    public var signals: StoreSignals

    public init(
        drives: any DriveRepository, licenses: any LicenseRepository, jobs: any JobRepository,
        servers: any ServerRepository, tags: any TagRepository, networks: any NetworkRepository, library: any LibraryRepository,
        accounts: any AccountRepository, admin: any AdminRepository, transitions: any TransitionRepository,
        outbox: any OutboxRepository, content: any ContentRepository, snapshots: any SnapshotRepository,
        events: any EventRepository, states: any StateRepository, changes: CommitGeneration, signals: StoreSignals
    ) {
        self.events = events
        self.states = states
        self.content = content
        self.snapshots = snapshots
        self.drives = drives
        self.licenses = licenses
        self.jobs = jobs
        self.servers = servers
        self.tags = tags
        self.networks = networks
        self.library = library
        self.accounts = accounts
        self.admin = admin
        self.transitions = transitions
        self.outbox = outbox
        self.changes = changes
        self.signals = signals
    }
}
