import DriveModel
import Foundation

/// An account of the API.
public struct User: Sendable, Equatable {
    public var uuid: String
    public var email: String
    public var createdAt: String

    public init(uuid: String, email: String, createdAt: String) {
        self.uuid = uuid
        self.email = email
        self.createdAt = createdAt
    }
}

public enum UserError: Error, Equatable, CustomStringConvertible {
    case emailTaken(String)
    case invalidEmail(String)
    case emptyPassword

    public var description: String {
        switch self {
        case .emailTaken(let e): "a user with email \(e) already exists"
        case .invalidEmail(let e): "not an email address: \(e)"
        case .emptyPassword: "the password must not be empty"
        }
    }
}

/// Accounts and their credentials. Passwords are stored only as slow salted hashes.
public protocol AccountRepository: Sendable {
    /// Creates an account; `iterations` of the password hash.
    @discardableResult
    func addUser(email: String, password: String, iterations: Int) throws -> User
    /// Every account, in creation order, without blocking the calling thread.
    func listUsers() async throws -> [User]
    /// The account these credentials belong to, or nil. Pays the slow hash.
    func verifyUser(email: String, password: String) async throws -> User?
}

/// What the admin API (`/_drivesd/`) asks of the store.
public protocol AdminRepository: Sendable {
    /// Whether every schema migration is applied (readiness).
    func isMigrated() throws -> Bool
    /// Deletes every drive, server, tag and job of one account (uuid or email) or of all; returns
    /// the number of drives removed. Accounts stay.
    @discardableResult
    func reset(account: String?) async throws -> Int
    /// Figures for `/_drivesd/metrics`.
    func stats() async throws -> StoreStats
    /// The fault path of the state machine: the drive's storage host goes away (`unavailable`) or
    /// comes back. Works on any account's drive; returns the drive's status afterwards.
    func setAvailability(driveUUID: String, available: Bool, now: Date) async throws -> DriveStatus
}

extension AdminRepository {
    public func setAvailability(driveUUID: String, available: Bool) async throws -> DriveStatus {
        try await setAvailability(driveUUID: driveUUID, available: available, now: Date())
    }
}

/// Figures for `/_drivesd/metrics`.
public struct StoreStats: Sendable {
    public var drivesByStatus: [String: Int]
    public var serversByStatus: [String: Int]
    public var jobsByState: [String: Int]
    public var pendingTransitions: Int
    public var heldTransitions: Int
    public var pendingEffects: Int
    public var users: Int
    public var databaseBytes: Int64

    public init(
        drivesByStatus: [String: Int], serversByStatus: [String: Int], jobsByState: [String: Int], pendingTransitions: Int,
        heldTransitions: Int, pendingEffects: Int, users: Int, databaseBytes: Int64
    ) {
        self.drivesByStatus = drivesByStatus
        self.serversByStatus = serversByStatus
        self.jobsByState = jobsByState
        self.pendingTransitions = pendingTransitions
        self.heldTransitions = heldTransitions
        self.pendingEffects = pendingEffects
        self.users = users
        self.databaseBytes = databaseBytes
    }
}
