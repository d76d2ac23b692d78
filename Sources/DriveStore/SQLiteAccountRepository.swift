import Foundation
import DriveModel
import DriveStorage
import GRDB

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
        let ha1 = Credentials.digestHA1(email: email, password: password)
        return try writeSync { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM users WHERE email = ?", arguments: [email]) != nil {
                throw UserError.emailTaken(email)
            }
            try db.execute(
                sql: """
                    INSERT INTO users (uuid, email, password_hash, salt, iterations, created_at, digest_ha1)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [user.uuid, email, Data(hash), Data(salt), iterations, user.createdAt, ha1])
            try SQLNetworkRepository.topUp(db, owner: user.uuid)
            return user
        }
    }

    /// ``addUser(email:password:iterations:)`` with the hash paid off the calling thread.
    public func createUser(email: String, password: String, iterations: Int) async throws -> User {
        try await Offload.run { try addUser(email: email, password: password, iterations: iterations) }
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
            let hasHA1: Bool
        }
        let stored = try await read { db -> Stored? in
            guard let row = try Row.fetchOne(
                db,
                sql: "SELECT uuid, email, created_at, password_hash, salt, iterations, digest_ha1 IS NOT NULL FROM users WHERE email = ?",
                arguments: [email])
            else { return nil }
            return Stored(
                user: User(uuid: row["uuid"], email: row["email"], createdAt: row["created_at"]),
                hash: row["password_hash"], salt: row["salt"], iterations: row["iterations"], hasHA1: row[6])
        }
        guard let stored else {
            // Spend comparable time so that unknown emails cannot be told from wrong passwords.
            _ = try? await PasswordHasher.hashOffThread(password, salt: [0], iterations: 10_000)
            return nil
        }
        let hash = try await PasswordHasher.hashOffThread(password, salt: Array(stored.salt), iterations: stored.iterations)
        guard PasswordHasher.equal(hash, Array(stored.hash)) else { return nil }
        if !stored.hasHA1 {
            // A user from before Digest: its HA1 can be derived now that the password is known.
            let ha1 = Credentials.digestHA1(email: stored.user.email, password: password)
            let storedHash = stored.hash
            try await write { db in
                try db.execute(
                    sql: "UPDATE users SET digest_ha1 = ? WHERE uuid = ? AND password_hash = ? AND digest_ha1 IS NULL",
                    arguments: [ha1, stored.user.uuid, storedHash])
            }
        }
        return stored.user
    }

    public func user(_ uuidOrEmail: String) async throws -> User? {
        try await readNow { db in try Self.fetchUser(db, uuidOrEmail) }
    }

    // MARK: Profile

    public func profile(userUUID: String) async throws -> Profile {
        try await readNow { db in try Self.fetchProfile(db, userUUID: userUUID) }
    }

    public func updateProfile(user: User, body: [String: JSONValue]) async throws -> Profile {
        try await write { db in
            let next = try Self.fetchProfile(db, userUUID: user.uuid).updated(with: body, user: user)
            try db.execute(
                sql: """
                    INSERT INTO profiles (user_uuid, clone_naming, fields) VALUES (?, ?, ?)
                    ON CONFLICT (user_uuid) DO UPDATE SET clone_naming = excluded.clone_naming, fields = excluded.fields
                    """,
                arguments: [user.uuid, next.cloneNaming.rawValue, JSONValue.object(next.fields).jsonString])
            return next
        }
    }

    static func fetchProfile(_ db: Database, userUUID: String) throws -> Profile {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT clone_naming, fields FROM profiles WHERE user_uuid = ?"), arguments: [userUUID])
        else { return Profile() }
        return Profile(
            cloneNaming: CloneNaming(rawValue: row[0]) ?? .none, fields: Codec.decodeObject(row[1]))
    }

    /// The clone naming strategy of account `owner`, inside a write transaction.
    static func cloneNaming(_ db: Database, owner: String) throws -> CloneNaming {
        try String.fetchOne(db.cachedStatement(sql: "SELECT clone_naming FROM profiles WHERE user_uuid = ?"), arguments: [owner])
            .flatMap(CloneNaming.init(rawValue:)) ?? .none
    }

    static func fetchUser(_ db: Database, _ uuidOrEmail: String) throws -> User? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT uuid, email, created_at FROM users WHERE uuid = ? OR email = ? LIMIT 1"),
            arguments: [uuidOrEmail, uuidOrEmail]
        ).map { User(uuid: $0[0], email: $0[1], createdAt: $0[2]) }
    }

    @discardableResult
    public func setPassword(user uuidOrEmail: String, password: String, iterations: Int) async throws -> User {
        guard !password.isEmpty else { throw UserError.emptyPassword }
        guard let user = try await user(uuidOrEmail) else { throw UserError.noSuchUser(uuidOrEmail) }
        let salt = PasswordHasher.newSalt()
        let hash = try await PasswordHasher.hashOffThread(password, salt: salt, iterations: iterations)
        let ha1 = Credentials.digestHA1(email: user.email, password: password)
        try await write { db in
            try db.execute(
                sql: "UPDATE users SET password_hash = ?, salt = ?, iterations = ?, digest_ha1 = ? WHERE uuid = ?",
                arguments: [Data(hash), Data(salt), iterations, ha1, user.uuid])
            // As Django does: a new password ends the sessions opened with the old one.
            try db.execute(sql: "DELETE FROM sessions WHERE user_uuid = ?", arguments: [user.uuid])
        }
        return user
    }

    public func digestCredential(username: String) async throws -> DigestCredential? {
        try await readNow { db in
            // `email` is COLLATE NOCASE: the name as registered and lower-cased both match.
            try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT uuid, email, created_at, digest_ha1 FROM users WHERE email = ? AND digest_ha1 IS NOT NULL"),
                arguments: [username]
            ).map { DigestCredential(user: User(uuid: $0[0], email: $0[1], createdAt: $0[2]), ha1: $0[3]) }
        }
    }

    public func createSession(userUUID: String, lifetime: TimeInterval, now: Date) async throws -> IssuedSession {
        let key = Credentials.randomToken(bytes: 20)
        let csrf = Credentials.randomToken(bytes: 24)
        let expires = now.addingTimeInterval(lifetime)
        try await write { db in
            // Expired sessions go when new ones come: the table stays the size of the live ones.
            try db.run(sql: "DELETE FROM sessions WHERE expires_at < ?", arguments: [now.timeIntervalSince1970])
            try db.run(
                sql: "INSERT INTO sessions (key_hash, user_uuid, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [Credentials.sha256(key), userUUID, csrf, now.timeIntervalSince1970, expires.timeIntervalSince1970])
        }
        return IssuedSession(key: key, csrfToken: csrf, expiresAt: expires)
    }

    public func session(key: String, now: Date) async throws -> ActiveSession? {
        let hash = Credentials.sha256(key)
        return try await readNow { db in
            try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT u.uuid, u.email, u.created_at, s.csrf_token, s.expires_at
                        FROM sessions s JOIN users u ON u.uuid = s.user_uuid
                        WHERE s.key_hash = ? AND s.expires_at > ?
                        """),
                arguments: [hash, now.timeIntervalSince1970]
            ).map {
                ActiveSession(
                    user: User(uuid: $0[0], email: $0[1], createdAt: $0[2]), csrfToken: $0[3],
                    expiresAt: Date(timeIntervalSince1970: $0[4]))
            }
        }
    }

    @discardableResult
    public func deleteSession(key: String) async throws -> Bool {
        let hash = Credentials.sha256(key)
        return try await write { db in
            try db.run(sql: "DELETE FROM sessions WHERE key_hash = ?", arguments: [hash])
            return db.changesCount > 0
        }
    }

    public func createToken(user uuidOrEmail: String, expiresIn: TimeInterval?, now: Date) async throws -> IssuedToken {
        if let expiresIn, !(expiresIn > 0) { throw UserError.invalidExpiry }
        guard let user = try await user(uuidOrEmail) else { throw UserError.noSuchUser(uuidOrEmail) }
        let token = "dsd_" + Credentials.randomToken(bytes: 32)
        let id = String(Credentials.hex(Credentials.sha256(token)).prefix(12))
        let info = TokenInfo(
            id: id, userUUID: user.uuid, email: user.email, createdAt: Timestamp.now(),
            expiresAt: expiresIn.map { now.addingTimeInterval($0) })
        try await write { db in
            try db.run(
                sql: "INSERT INTO api_tokens (token_hash, id, user_uuid, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [Credentials.sha256(token), id, user.uuid, info.createdAt, info.expiresAt?.timeIntervalSince1970])
        }
        return IssuedToken(token: token, info: info)
    }

    public func tokens(user uuidOrEmail: String) async throws -> [TokenInfo] {
        guard let user = try await user(uuidOrEmail) else { throw UserError.noSuchUser(uuidOrEmail) }
        return try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, created_at, expires_at FROM api_tokens WHERE user_uuid = ? ORDER BY created_at, id",
                arguments: [user.uuid]
            ).map {
                TokenInfo(
                    id: $0[0], userUUID: user.uuid, email: user.email, createdAt: $0[1],
                    expiresAt: ($0[2] as Double?).map { Date(timeIntervalSince1970: $0) })
            }
        }
    }

    @discardableResult
    public func revokeToken(_ tokenOrID: String) async throws -> Bool {
        let hash = Credentials.sha256(tokenOrID)
        return try await write { db in
            try db.run(sql: "DELETE FROM api_tokens WHERE token_hash = ? OR id = ?", arguments: [hash, tokenOrID])
            return db.changesCount > 0
        }
    }

    public func tokenUser(token: String, now: Date) async throws -> (user: User, expiresAt: Date?)? {
        let hash = Credentials.sha256(token)
        return try await readNow { db -> (user: User, expiresAt: Date?)? in
            guard let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT u.uuid, u.email, u.created_at, t.expires_at
                        FROM api_tokens t JOIN users u ON u.uuid = t.user_uuid
                        WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)
                        """),
                arguments: [hash, now.timeIntervalSince1970])
            else { return nil }
            return (User(uuid: row[0], email: row[1], createdAt: row[2]), (row[3] as Double?).map { Date(timeIntervalSince1970: $0) })
        }
    }

    public func credentialEpoch() async throws -> Int64 {
        try await readNow { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT value FROM credential_epoch WHERE id = 1")) ?? 0
        }
    }

    public func secret(named name: String) async throws -> [UInt8] {
        if let value = try await readNow({ db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT value FROM server_secrets WHERE name = ?"), arguments: [name])
        }) {
            return Array(value)
        }
        let fresh = Data(Credentials.randomBytes(32))
        let value = try await write { db in
            try db.run(sql: "INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?, ?)", arguments: [name, fresh])
            return try Data.fetchOne(db, sql: "SELECT value FROM server_secrets WHERE name = ?", arguments: [name]) ?? fresh
        }
        return Array(value)
    }
}

extension AppDatabase: AccountRepository {}
