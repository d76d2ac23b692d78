import DriveModel
import Foundation

/// Named states (`/_drivesd/states`, `drivesd state`): the whole environment, or one account's,
/// saved under a name in the database and loaded back in one transaction.
public protocol StateRepository: Sendable {
    /// Saves every account's data, or `account`'s (uuid or email) only, as of one commit. A name
    /// in use is refused (`CloudSigmaError.conflict`) unless `replace`.
    func save(name: String, account: String?, replace: Bool, now: Date) async throws -> SavedState
    /// The saved states, by name.
    func list() async throws -> [SavedState]
    /// One saved state, nil when there is none of that name.
    func state(named name: String) async throws -> SavedState?
    /// Replaces the live data of the state's scope with the saved rows in one transaction; pending
    /// transitions and running jobs resume as they were at the save, from `now`.
    func load(name: String, now: Date) async throws -> StateLoadResult
    /// Deletes a saved state (its content references go with it); false when there was none.
    func delete(name: String) async throws -> Bool
}

/// What `GET /_drivesd/states` lists of one state.
public struct SavedState: Sendable, Equatable {
    public var name: String
    /// The account a per-account state holds (uuid and email); nil for a state of every account.
    public var account: String?
    public var accountEmail: String?
    public var created: String
    public var savedAt: Double
    public var drives: Int
    public var servers: Int
    public var snapshots: Int
    /// The sum of the saved drives' sizes.
    public var logicalBytes: Int64
    /// The bytes of the content images the state references (shared with the live drives, never
    /// copied).
    public var storedBytes: Int64

    public init(
        name: String, account: String?, accountEmail: String?, created: String, savedAt: Double, drives: Int, servers: Int,
        snapshots: Int, logicalBytes: Int64, storedBytes: Int64
    ) {
        self.name = name
        self.account = account
        self.accountEmail = accountEmail
        self.created = created
        self.savedAt = savedAt
        self.drives = drives
        self.servers = servers
        self.snapshots = snapshots
        self.logicalBytes = logicalBytes
        self.storedBytes = storedBytes
    }
}

/// What a load did.
public struct StateLoadResult: Sendable, Equatable {
    public var state: SavedState
    /// Rows deleted, updated and inserted to make the live data equal to the saved data.
    public var deleted: Int
    public var updated: Int
    public var inserted: Int

    public init(state: SavedState, deleted: Int, updated: Int, inserted: Int) {
        self.state = state
        self.deleted = deleted
        self.updated = updated
        self.inserted = inserted
    }
}

/// The rules of a state's name: what the admin API, the command line and the console accept.
public enum StateName {
    public static func check(_ name: String) throws {
        let allowed = name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
        }
        guard !name.isEmpty, name.utf8.count <= 100, allowed, name != ".", name != ".." else {
            throw CloudSigmaError.validation(
                "name", "A state's name is 1 to 100 letters, digits, '.', '-' or '_' (got \(name.debugDescription))")
        }
    }
}
