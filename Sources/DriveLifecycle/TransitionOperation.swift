/// The operations that leave a resource in a transient status until the worker completes them:
/// a pending transition of every kind of resource names one of these.
public enum TransitionOperation: String, Sendable, CaseIterable {
    /// A drive: `creating` → resting.
    case create
    /// A drive: `resizing` → resting, with the new size applied.
    case resize
    /// A drive: `cloning_dst` → resting; its source leaves `cloning_src` once no clone copies.
    case clone
    /// A server: `starting` → `running`.
    case start
    /// A server: `stopping` → `stopped`.
    case stop
    /// A snapshot: `creating` → `available`.
    case snapshot

    /// The kind of resource the operation's transition belongs to.
    public var resource: ResourceKind {
        switch self {
        case .create, .resize, .clone: .drive
        case .start, .stop: .server
        case .snapshot: .snapshot
        }
    }
}

/// The kinds of resource that have statuses and pending transitions.
public enum ResourceKind: String, Sendable, CaseIterable {
    case drive
    case server
    case snapshot
}

/// How long each simulated operation takes, before `timeScale` multiplies it.
public struct OperationDurations: Sendable, Equatable {
    /// Seconds from `creating` to `unmounted`.
    public var createSeconds: Double
    /// Seconds a resize keeps a drive in `resizing`.
    public var resizeSeconds: Double
    /// Fixed part of a clone's duration, in seconds.
    public var cloneBaseSeconds: Double
    /// Clone copy speed: a clone also takes size / this many seconds.
    public var cloneBytesPerSecond: Double
    /// Seconds a server spends `starting`.
    public var startSeconds: Double
    /// Seconds a server spends `stopping`.
    public var stopSeconds: Double
    /// Seconds a snapshot spends `creating`.
    public var snapshotSeconds: Double = 1.0
    /// Multiplies every duration: 1 is realistic, 0 completes on the worker's next tick.
    public var timeScale: Double

    public init(
        createSeconds: Double = 1.0, resizeSeconds: Double = 2.0, cloneBaseSeconds: Double = 1.0,
        cloneBytesPerSecond: Double = 1_073_741_824, startSeconds: Double = 1.0, stopSeconds: Double = 1.0,
        timeScale: Double = 1.0
    ) {
        self.createSeconds = createSeconds
        self.resizeSeconds = resizeSeconds
        self.cloneBaseSeconds = cloneBaseSeconds
        self.cloneBytesPerSecond = cloneBytesPerSecond
        self.startSeconds = startSeconds
        self.stopSeconds = stopSeconds
        self.timeScale = timeScale
    }

    public typealias Kind = TransitionOperation

    /// Seconds the operation takes on a resource of `size` bytes (0 for servers), scaled.
    public func seconds(_ kind: TransitionOperation, size: Int64 = 0) -> Double {
        let base: Double
        switch kind {
        case .create: base = createSeconds
        case .resize: base = resizeSeconds
        case .clone: base = cloneBaseSeconds + (cloneBytesPerSecond > 0 ? Double(size) / cloneBytesPerSecond : 0)
        case .start: base = startSeconds
        case .stop: base = stopSeconds
        case .snapshot: base = snapshotSeconds
        }
        return max(0, base * timeScale)
    }
}
