import DriveStorage
import Synchronization

/// Signals to give once the transaction that asked for them commits, never before (a worker woken
/// early would not see the rows yet) and never after a rollback.
final class AfterCommit: Sendable {
    enum Signal: Sendable { case transitions, outbox }

    private let flags = Mutex<(transitions: Bool, outbox: Bool)>((false, false))
    let signals: StoreSignals

    init(signals: StoreSignals) { self.signals = signals }

    /// Called inside a write transaction.
    func ring(_ signal: Signal) {
        flags.withLock {
            switch signal {
            case .transitions: $0.transitions = true
            case .outbox: $0.outbox = true
            }
        }
    }

    func didCommit() {
        let (transitions, outbox) = flags.withLock { flags in
            defer { flags = (false, false) }
            return flags
        }
        if transitions { signals.transitions.ring() }
        if outbox { signals.outbox.ring() }
    }

    func didRollback() {
        flags.withLock { $0 = (false, false) }
    }
}
