import DriveModel

/// The drive status state machine (reference §3.10, decisions 1 and 4).
///
/// Pure: no I/O and no clock. Every (status, operation) pair answers a ``Decision``; the store
/// applies a `.proceed` as a compare-and-swap update guarded by the status the machine saw.
public enum DriveLifecycle {
    /// What the machine needs to know about a drive.
    public struct Context: Sendable, Equatable {
        public var status: DriveStatus
        /// How many servers list the drive in their `drives`.
        public var mountCount: Int
        /// Whether one of those servers is running (or starting/stopping).
        public var onRunningServer: Bool
        /// Clones still copying from this drive (when it is `cloning_src`).
        public var activeClonesFromHere: Int

        public init(status: DriveStatus, mountCount: Int = 0, onRunningServer: Bool = false, activeClonesFromHere: Int = 0) {
            self.status = status
            self.mountCount = mountCount
            self.onRunningServer = onRunningServer
            self.activeClonesFromHere = activeClonesFromHere
        }

        /// The idle status the drive belongs in when nothing is in progress.
        public var restingStatus: DriveStatus { mountCount > 0 ? .mounted : .unmounted }
    }

    /// Everything that can happen to a drive.
    public enum Operation: String, Sendable, CaseIterable {
        /// PUT changing only `name`, `meta`, `tags`, `allow_multimount`.
        case editBasic = "edit"
        /// PUT changing `media` or `affinities` (applied at once).
        case editStructural = "edit_structural"
        /// Size growth through PUT (silently ignored where not allowed on a running server).
        case resizeByEdit = "resize_by_edit"
        /// `POST .../action/?do=resize` (fails loudly).
        case resize
        /// The drive as a clone source.
        case clone
        case delete
        case attach
        case detach
        case snapshot
        /// The worker finishing the transient status the drive is in.
        case complete
        /// Admin/fault path: the storage host went away.
        case markUnavailable = "mark_unavailable"
        /// Admin/fault path: the storage host came back.
        case markAvailable = "mark_available"
    }

    /// The machine's answer.
    public enum Decision: Sendable, Equatable {
        /// Go ahead; `to` is the new status (nil: the status does not change).
        case proceed(to: DriveStatus?)
        /// Accept the request but leave the drive as it is (reference §3.6: silently ignored).
        case ignore
        /// Refuse: `403 permission` with the message of decision 1.
        case reject(CloudSigmaError)
    }

    /// Decides what `operation` does to a drive in `context`.
    public static func decide(_ operation: Operation, in context: Context) -> Decision {
        let status = context.status
        switch operation {
        case .editBasic:
            return .proceed(to: nil)

        case .editStructural, .resizeByEdit:
            if status == .unmounted || status == .mounted {
                if context.onRunningServer { return .ignore }
                return .proceed(to: operation == .resizeByEdit ? .resizing : nil)
            }
            return .reject(refusal(operation == .resizeByEdit ? "resize" : "edit", status, expected: [.unmounted, .mounted]))

        case .resize:
            if status == .unmounted || status == .mounted {
                if context.onRunningServer {
                    return .reject(runningServerRefusal("resize"))
                }
                return .proceed(to: .resizing)
            }
            return .reject(refusal("resize", status, expected: [.unmounted, .mounted]))

        case .clone:
            switch status {
            case .unmounted, .mounted, .cloningSource: return .proceed(to: .cloningSource)
            default: return .reject(refusal("clone", status, expected: [.unmounted, .mounted]))
            }

        case .delete:
            if status == .unmounted || status == .mounted {
                if context.onRunningServer { return .reject(runningServerRefusal("delete")) }
                return .proceed(to: nil)
            }
            return .reject(refusal("delete", status, expected: [.unmounted, .mounted]))

        case .snapshot:
            if status == .unmounted || status == .mounted { return .proceed(to: nil) }
            return .reject(refusal("snapshot", status, expected: [.unmounted, .mounted]))

        case .attach:
            switch status {
            case .unmounted: return .proceed(to: .mounted)
            case .mounted: return .proceed(to: .mounted)
            default: return .reject(refusal("attach", status, expected: [.unmounted]))
            }

        case .detach:
            if status == .mounted {
                return .proceed(to: context.mountCount > 0 ? .mounted : .unmounted)
            }
            // A drive in a transient status keeps it; completion picks the resting status then.
            return .proceed(to: nil)

        case .complete:
            switch status {
            case .creating, .uploading, .copying, .staging, .resizing, .cloningDestination:
                return .proceed(to: context.restingStatus)
            case .cloningSource:
                return context.activeClonesFromHere > 0 ? .proceed(to: nil) : .proceed(to: context.restingStatus)
            case .unmounted, .mounted, .unavailable:
                return .reject(refusal("complete", status, expected: [.creating, .resizing, .cloningSource, .cloningDestination]))
            }

        case .markUnavailable:
            if status == .unmounted || status == .mounted { return .proceed(to: .unavailable) }
            return .reject(refusal("make unavailable", status, expected: [.unmounted, .mounted]))

        case .markAvailable:
            if status == .unavailable { return .proceed(to: context.restingStatus) }
            return .reject(refusal("make available", status, expected: [.unavailable]))
        }
    }

    /// `Cannot resize drive in state "mounted". Drive should be in state "unmounted"` (decision 1).
    public static func refusal(_ verb: String, _ status: DriveStatus, expected: [DriveStatus]) -> CloudSigmaError {
        let should =
            expected.count == 1
            ? expected[0].rawValue
            : "[" + expected.map { "'\($0.rawValue)'" }.joined(separator: ", ") + "]"
        return .permission("Cannot \(verb) drive in state \"\(status.rawValue)\". Drive should be in state \"\(should)\"")
    }

    static func runningServerRefusal(_ verb: String) -> CloudSigmaError {
        .permission(
            "Cannot \(verb) drive in state \"mounted\" on a running server. Drive should be in state \"unmounted\" or mounted on stopped servers only"
        )
    }
}
