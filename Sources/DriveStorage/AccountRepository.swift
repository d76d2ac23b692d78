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
    case noSuchUser(String)
    case noSuchToken
    case invalidExpiry

    public var description: String {
        switch self {
        case .noSuchUser(let e): "no user with email or uuid \(e)"
        case .noSuchToken: "no such token"
        case .invalidExpiry: "the expiry must be a positive number of seconds"
        case .emailTaken(let e): "a user with email \(e) already exists"
        case .invalidEmail(let e): "not an email address: \(e)"
        case .emptyPassword: "the password must not be empty"
        }
    }
}

/// Accounts and their credentials. Passwords are stored only as slow salted hashes.
public protocol AccountRepository: Sendable {
    /// The profile of account `userUUID` (the defaults while it was never changed).
    func profile(userUUID: String) async throws -> Profile
    /// Applies a `PUT /profile/` body to the profile of `user` in one transaction (see
    /// ``Profile/updated(with:user:)``); answers the profile stored.
    func updateProfile(user: User, body: [String: JSONValue]) async throws -> Profile

    /// Creates an account (with its allotment of IPs and VLANs); `iterations` of the password
    /// hash, which is paid off the calling thread.
    @discardableResult
    func createUser(email: String, password: String, iterations: Int) async throws -> User
    /// Every account, in creation order, without blocking the calling thread.
    func listUsers() async throws -> [User]
    /// The account these credentials belong to, or nil. Pays the slow hash. A user without a
    /// Digest HA1 (created before Digest existed) gets one on this success.
    func verifyUser(email: String, password: String) async throws -> User?
    /// The account with this uuid or email, or nil.
    func user(_ uuidOrEmail: String) async throws -> User?
    /// Sets a new password (and its Digest HA1); ends the user's sessions.
    @discardableResult
    func setPassword(user uuidOrEmail: String, password: String, iterations: Int) async throws -> User
    /// What Digest checks a response against: the user (email compared without case) and its
    /// HA1 = MD5(email:users:password), or nil when unknown or when no HA1 is stored yet.
    func digestCredential(username: String) async throws -> DigestCredential?

    /// Opens a session for `userUUID`, valid for `lifetime` seconds.
    func createSession(userUUID: String, lifetime: TimeInterval, now: Date) async throws -> IssuedSession
    /// The live session whose cookie is `key`, or nil (unknown or expired).
    func session(key: String, now: Date) async throws -> ActiveSession?
    /// Ends the session whose cookie is `key`; whether there was one.
    @discardableResult
    func deleteSession(key: String) async throws -> Bool

    /// Issues a bearer token for a user (uuid or email), expiring after `expiresIn` seconds (nil: never).
    func createToken(user uuidOrEmail: String, expiresIn: TimeInterval?, now: Date) async throws -> IssuedToken
    /// The tokens of a user (uuid or email), oldest first; never the secrets.
    func tokens(user uuidOrEmail: String) async throws -> [TokenInfo]
    /// Revokes a token given as itself or as its id; whether there was one.
    @discardableResult
    func revokeToken(_ tokenOrID: String) async throws -> Bool
    /// The user of a live bearer token, with its expiry; nil when unknown, revoked or expired.
    func tokenUser(token: String, now: Date) async throws -> (user: User, expiresAt: Date?)?

    /// A number that moves whenever a credential stops being valid (password changed, user,
    /// session or token deleted), from any process sharing the store.
    func credentialEpoch() async throws -> Int64
    /// A random secret of 32 bytes named `name`, made once and kept by the store (signing keys).
    func secret(named name: String) async throws -> [UInt8]
}

/// What Digest needs of a user.
public struct DigestCredential: Sendable, Equatable {
    public var user: User
    /// Lower-case hex MD5(email:users:password).
    public var ha1: String

    public init(user: User, ha1: String) {
        self.user = user
        self.ha1 = ha1
    }
}

/// A session just opened: the cookie values to set.
public struct IssuedSession: Sendable, Equatable {
    /// The `sessionid` cookie (a random secret; the store keeps its hash only).
    public var key: String
    /// The `csrftoken` cookie, and the `X-CSRFToken` that unsafe requests must carry.
    public var csrfToken: String
    public var expiresAt: Date

    public init(key: String, csrfToken: String, expiresAt: Date) {
        self.key = key
        self.csrfToken = csrfToken
        self.expiresAt = expiresAt
    }
}

/// A live session.
public struct ActiveSession: Sendable, Equatable {
    public var user: User
    public var csrfToken: String
    public var expiresAt: Date

    public init(user: User, csrfToken: String, expiresAt: Date) {
        self.user = user
        self.csrfToken = csrfToken
        self.expiresAt = expiresAt
    }
}

/// A bearer token as listed (never the secret).
public struct TokenInfo: Sendable, Equatable {
    /// A short public name of the token, for listing and revoking.
    public var id: String
    public var userUUID: String
    public var email: String
    public var createdAt: String
    public var expiresAt: Date?

    public init(id: String, userUUID: String, email: String, createdAt: String, expiresAt: Date?) {
        self.id = id
        self.userUUID = userUUID
        self.email = email
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// A token just issued: the secret, shown once.
public struct IssuedToken: Sendable, Equatable {
    public var token: String
    public var info: TokenInfo

    public init(token: String, info: TokenInfo) {
        self.token = token
        self.info = info
    }
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
    /// Every account with how many drives, snapshots and servers it has (the console).
    func accountSummaries() async throws -> [AccountSummary]
    /// How many snapshots there are, across accounts.
    func snapshotCount() async throws -> Int
    /// The account (uuid) that owns the drive, nil when there is no such drive.
    func driveOwner(uuid: String) async throws -> String?
    /// Pending transitions, soonest first (held ones last): of every resource, or of one.
    func pendingTransitions(resource: String?, limit: Int) async throws -> [PendingTransition]
    /// What the drive's content image holds; nil when there is no such drive.
    func contentMap(driveUUID: String) async throws -> ContentMap?
}

/// One account and what it holds.
public struct AccountSummary: Sendable, Equatable {
    public var uuid: String
    public var email: String
    public var created: String
    public var drives: Int
    public var snapshots: Int
    public var servers: Int

    public init(uuid: String, email: String, created: String, drives: Int, snapshots: Int, servers: Int) {
        self.uuid = uuid
        self.email = email
        self.created = created
        self.drives = drives
        self.snapshots = snapshots
        self.servers = servers
    }
}

/// A transition waiting for the worker (or, when `held`, for an advance).
public struct PendingTransition: Sendable, Equatable {
    /// `drive`, `server` or `snapshot`.
    public var kind: String
    public var uuid: String
    public var owner: String
    public var name: String
    public var operation: String
    public var fromStatus: String
    /// Unix seconds; meaningless when `held`.
    public var dueAt: Double
    public var held: Bool

    public init(
        kind: String, uuid: String, owner: String, name: String, operation: String, fromStatus: String, dueAt: Double, held: Bool
    ) {
        self.kind = kind
        self.uuid = uuid
        self.owner = owner
        self.name = name
        self.operation = operation
        self.fromStatus = fromStatus
        self.dueAt = dueAt
        self.held = held
    }
}

/// A drive's content image: how many extents hold bytes, what they store on disk, and whether
/// other drives or snapshots share them (copy-on-write).
public struct ContentMap: Sendable, Equatable {
    /// nil: the drive has no image (it reads as zeros).
    public var image: Int64?
    public var extentSize: Int64
    /// Extents written (the rest of the drive reads as zeros and stores nothing).
    public var extents: Int
    public var storedBytes: Int64
    /// Stored bytes that something else references too (0 when the image is the drive's alone).
    public var sharedBytes: Int64
    /// Drives, library drives and snapshots that reference the image.
    public var references: Int
    /// false while an upload is writing into the image.
    public var sealed: Bool

    public init(image: Int64?, extentSize: Int64, extents: Int, storedBytes: Int64, sharedBytes: Int64, references: Int, sealed: Bool) {
        self.image = image
        self.extentSize = extentSize
        self.extents = extents
        self.storedBytes = storedBytes
        self.sharedBytes = sharedBytes
        self.references = references
        self.sealed = sealed
    }
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
