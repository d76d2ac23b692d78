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
    /// Multiplies every duration: 1 is realistic, 0 completes on the worker's next tick.
    public var timeScale: Double

    public init(
        createSeconds: Double = 1.0, resizeSeconds: Double = 2.0, cloneBaseSeconds: Double = 1.0,
        cloneBytesPerSecond: Double = 1_073_741_824, timeScale: Double = 1.0
    ) {
        self.createSeconds = createSeconds
        self.resizeSeconds = resizeSeconds
        self.cloneBaseSeconds = cloneBaseSeconds
        self.cloneBytesPerSecond = cloneBytesPerSecond
        self.timeScale = timeScale
    }

    public enum Kind: String, Sendable, CaseIterable { case create, resize, clone }

    /// Seconds the operation takes on a drive of `size` bytes, scaled.
    public func seconds(_ kind: Kind, size: Int64) -> Double {
        let base: Double
        switch kind {
        case .create: base = createSeconds
        case .resize: base = resizeSeconds
        case .clone: base = cloneBaseSeconds + (cloneBytesPerSecond > 0 ? Double(size) / cloneBytesPerSecond : 0)
        }
        return max(0, base * timeScale)
    }
}
