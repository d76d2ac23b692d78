import Crypto
import CryptoExtras
import Foundation
import DriveModel
import DriveStorage
import GRDB

/// Salted, slow password hashing: PBKDF2-HMAC-SHA256.
public enum PasswordHasher {
    /// OWASP's recommendation for PBKDF2-HMAC-SHA256 is 600,000; this default balances that
    /// against a first request's latency on a 2-core machine (the API caches verified credentials).
    public static let defaultIterations = 210_000

    public static func hash(_ password: String, salt: [UInt8], iterations: Int) throws -> [UInt8] {
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32,
            unsafeUncheckedRounds: iterations)
        return key.withUnsafeBytes { Array($0) }
    }

    public static func newSalt() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// Constant-time comparison.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

extension AppDatabase {
    /// Creates a user with a salted PBKDF2 hash of `password`.
    @discardableResult
    public func addUser(email: String, password: String, iterations: Int = PasswordHasher.defaultIterations) throws -> User {
        let email = email.trimmingCharacters(in: .whitespaces)
        guard email.contains("@"), !email.hasPrefix("@"), !email.hasSuffix("@"), !email.contains(":") else {
            throw UserError.invalidEmail(email)
        }
        guard !password.isEmpty else { throw UserError.emptyPassword }
        let salt = PasswordHasher.newSalt()
        let hash = try PasswordHasher.hash(password, salt: salt, iterations: iterations)
        let user = User(uuid: Identifiers.make(), email: email, createdAt: Timestamp.now())
        return try writeSync { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM users WHERE email = ?", arguments: [email]) != nil {
                throw UserError.emailTaken(email)
            }
            try db.execute(
                sql: "INSERT INTO users (uuid, email, password_hash, salt, iterations, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [user.uuid, email, Data(hash), Data(salt), iterations, user.createdAt])
            return user
        }
    }

    /// Every user, in creation order.
    public func users() throws -> [User] {
        try readSync(Self.fetchUsers)
    }

    /// Every user, in creation order, read without blocking the calling thread (for handlers).
    public func listUsers() async throws -> [User] {
        try await read(Self.fetchUsers)
    }

    @Sendable static func fetchUsers(_ db: Database) throws -> [User] {
        try Row.fetchAll(db, sql: "SELECT uuid, email, created_at FROM users ORDER BY created_at, rowid").map {
            User(uuid: $0["uuid"], email: $0["email"], createdAt: $0["created_at"])
        }
    }

    public func userCount() throws -> Int {
        try readSync { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users") ?? 0 }
    }

    /// The user whose credentials these are, or nil. Pays the slow hash.
    public func verifyUser(email: String, password: String) async throws -> User? {
        struct Stored: Sendable {
            let user: User
            let hash: Data
            let salt: Data
            let iterations: Int
        }
        let stored = try await read { db -> Stored? in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT uuid, email, created_at, password_hash, salt, iterations FROM users WHERE email = ?",
                arguments: [email])
            else { return nil }
            return Stored(
                user: User(uuid: row["uuid"], email: row["email"], createdAt: row["created_at"]),
                hash: row["password_hash"], salt: row["salt"], iterations: row["iterations"])
        }
        guard let stored else {
            // Spend comparable time so that unknown emails cannot be told from wrong passwords.
            _ = try? PasswordHasher.hash(password, salt: [0], iterations: 10_000)
            return nil
        }
        let hash = try PasswordHasher.hash(password, salt: Array(stored.salt), iterations: stored.iterations)
        guard PasswordHasher.equal(hash, Array(stored.hash)) else { return nil }
        return stored.user
    }
}

extension AppDatabase: AccountRepository {}
