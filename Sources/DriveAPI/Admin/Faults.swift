import DriveModel
import Foundation
import Synchronization

/// Fault injection scoped by a request header, like the Retry Test API of Google's storage
/// testbench: `POST /_drivesd/faults` registers a list; requests carrying
/// `X-Drivesd-Fault-Id: <id>` consume the faults in order.
public final class FaultRegistry: Sendable {
    public enum Fault: Sendable, Equatable {
        /// Answer with this status and a CloudSigma error array, without handling the request.
        case status(Int)
        /// Wait, then handle the request.
        case delay(seconds: Double)
        /// Put the drive the request names into `unavailable` (or back), then handle the request.
        case setStatus(available: Bool)

        /// Parses `return-503`, `delay-2s`, `delay-0.5s`, `set-status:unavailable`,
        /// `set-status:available`.
        public init?(_ text: String) {
            if text.hasPrefix("return-"), let code = Int(text.dropFirst(7)), (400...599).contains(code) {
                self = .status(code)
            } else if text.hasPrefix("delay-"), text.hasSuffix("s"), let s = Double(text.dropFirst(6).dropLast()), s >= 0, s <= 60 {
                self = .delay(seconds: s)
            } else if text == "set-status:unavailable" {
                self = .setStatus(available: false)
            } else if text == "set-status:available" {
                self = .setStatus(available: true)
            } else {
                return nil
            }
        }
    }

    struct Entry {
        var text: String
        var fault: Fault
        var firedBy: String?
        var firedAt: String?
    }

    let sets = Mutex<[String: [Entry]]>([:])
    /// Ids in the order they were registered.
    let order = Mutex<[String]>([])

    public init() {}

    /// Registers faults (texts already validated by `Fault.init`); returns the id.
    func register(_ texts: [String]) -> String {
        let id = Identifiers.make()
        let entries = texts.compactMap { text in Fault(text).map { Entry(text: text, fault: $0) } }
        sets.withLock { $0[id] = entries }
        order.withLock { $0.append(id) }
        return id
    }

    /// The next unfired fault of set `id`, marked fired by `requestID`; nil when none is left.
    func consume(_ id: String, requestID: String, at time: String) -> Fault? {
        sets.withLock { sets in
            guard var entries = sets[id], let index = entries.firstIndex(where: { $0.firedBy == nil }) else { return nil }
            entries[index].firedBy = requestID
            entries[index].firedAt = time
            sets[id] = entries
            return entries[index].fault
        }
    }

    /// Every set's report, newest first (`GET /_drivesd/faults`).
    func reports() -> [JSONValue] {
        order.withLock { $0 }.reversed().compactMap { report($0) }
    }

    /// The report of `GET /_drivesd/faults/{id}`.
    func report(_ id: String) -> JSONValue? {
        sets.withLock { sets in
            guard let entries = sets[id] else { return nil }
            return .object([
                "id": .string(id),
                "faults": .array(
                    entries.map { entry in
                        .object([
                            "fault": .string(entry.text), "fired": .bool(entry.firedBy != nil),
                            "request_id": entry.firedBy.map(JSONValue.string) ?? .null,
                            "fired_at": entry.firedAt.map(JSONValue.string) ?? .null,
                        ])
                    }),
                "remaining": .int(Int64(entries.filter { $0.firedBy == nil }.count)),
            ])
        }
    }
}
