import DriveModel
import DriveStorage
import Foundation
import PostgresNIO

/// Accounts and their credentials on PostgreSQL: the same rows, hashes and answers as the SQLite
/// store's (`AppDatabase`'s `AccountRepository`). Emails match without regard to case, as
/// SQLite's `COLLATE NOCASE` column does.
extension PostgresStore: AccountRepository {
    // MARK: Users

    public func createUser(email: String, password: String, iterations: Int) async throws -> User {
        let email = email.trimmingCharacters(in: .whitespaces)
        guard email.contains("@"), !email.hasPrefix("@"), !email.hasSuffix("@"), !email.contains(":"), Self.storable(email) else {
            throw UserError.invalidEmail(email)
        }
        guard !password.isEmpty else { throw UserError.emptyPassword }
        let salt = PasswordHasher.newSalt()
        let hash = try await PasswordHasher.hashOffThread(password, salt: salt, iterations: iterations)
        let user = User(uuid: Identifiers.make(), email: email, createdAt: Timestamp.now())
        let ha1 = Credentials.digestHA1(email: email, password: password)
        do {
            return try await transaction { tx in
                if try await tx.run("SELECT 1 FROM users WHERE email = \(email)") > 0 {
                    throw UserError.emailTaken(email)
                }
                try await tx.run(
                    """
                    INSERT INTO users (uuid, email, password_hash, salt, iterations, created_at, digest_ha1)
                    VALUES (\(user.uuid), \(email), \(Data(hash)), \(Data(salt)), \(iterations), \(user.createdAt), \(ha1))
                    """)
                // The account's IPs and VLANs, by the shared store's code, on this transaction's
                // connection (from a thread that may wait for its answers).
                let connection = tx.connection
                let logger = self.logger
                try await blocking.runIfActive {
                    try SQLNetworkRepository.topUp(Database(connection: connection, logger: logger), owner: user.uuid)
                }
                return user
            }
        } catch let error as PostgresServerError where error.isUniqueViolation {
            // Another process registered the same email between the check and the insert.
            throw UserError.emailTaken(email)
        }
    }

    public func listUsers() async throws -> [User] {
        try await rows("SELECT uuid, email, created_at FROM users ORDER BY created_at, rowid").map(Self.user)
    }

    /// The number of accounts.
    public func userCount() async throws -> Int {
        try await rows("SELECT count(*) FROM users").first?.decode(Int.self) ?? 0
    }

    public func verifyUser(email: String, password: String) async throws -> User? {
        let found = !Self.storable(email) ? [] : try await rows(
            """
            SELECT uuid, email, created_at, password_hash, salt, iterations, digest_ha1 IS NOT NULL
            FROM users WHERE email = \(email)
            """)
        guard let row = found.first else {
            // Spend comparable time so that unknown emails cannot be told from wrong passwords.
            _ = try? await PasswordHasher.hashOffThread(password, salt: [0], iterations: 10_000)
            return nil
        }
        let (uuid, storedEmail, createdAt, storedHash, salt, iterations, hasHA1) =
            try row.decode((String, String, String, Data, Data, Int, Bool).self)
        let user = User(uuid: uuid, email: storedEmail, createdAt: createdAt)
        let hash = try await PasswordHasher.hashOffThread(password, salt: Array(salt), iterations: iterations)
        guard PasswordHasher.equal(hash, Array(storedHash)) else { return nil }
        if !hasHA1 {
            // A user from before Digest: its HA1 can be derived now that the password is known.
            let ha1 = Credentials.digestHA1(email: user.email, password: password)
            _ = try await rows(
                """
                UPDATE users SET digest_ha1 = \(ha1)
                WHERE uuid = \(user.uuid) AND password_hash = \(storedHash) AND digest_ha1 IS NULL
                """)
        }
        return user
    }

    public func user(_ uuidOrEmail: String) async throws -> User? {
        guard Self.storable(uuidOrEmail) else { return nil }
        return try await rows(
            "SELECT uuid, email, created_at FROM users WHERE uuid = \(uuidOrEmail) OR email = \(uuidOrEmail) LIMIT 1"
        ).first.map(Self.user)
    }

    public func setPassword(user uuidOrEmail: String, password: String, iterations: Int) async throws -> User {
        guard !password.isEmpty else { throw UserError.emptyPassword }
        guard let user = try await user(uuidOrEmail) else { throw UserError.noSuchUser(uuidOrEmail) }
        let salt = PasswordHasher.newSalt()
        let hash = try await PasswordHasher.hashOffThread(password, salt: salt, iterations: iterations)
        let ha1 = Credentials.digestHA1(email: user.email, password: password)
        try await transaction { tx in
            try await tx.run(
                """
                UPDATE users SET password_hash = \(Data(hash)), salt = \(Data(salt)), iterations = \(iterations),
                    digest_ha1 = \(ha1)
                WHERE uuid = \(user.uuid)
                """)
            // As Django does: a new password ends the sessions opened with the old one.
            try await tx.run("DELETE FROM sessions WHERE user_uuid = \(user.uuid)")
        }
        return user
    }

    public func digestCredential(username: String) async throws -> DigestCredential? {
        guard Self.storable(username) else { return nil }
        return try await rows(
            """
            SELECT uuid, email, created_at, digest_ha1 FROM users
            WHERE email = \(username) AND digest_ha1 IS NOT NULL
            """
        ).first.map { row in
            let (uuid, email, createdAt, ha1) = try row.decode((String, String, String, String).self)
            return DigestCredential(user: User(uuid: uuid, email: email, createdAt: createdAt), ha1: ha1)
        }
    }

    // MARK: Profiles

    public func profile(userUUID: String) async throws -> Profile {
        guard let row = try await rows("SELECT clone_naming, fields FROM profiles WHERE user_uuid = \(userUUID)").first
        else { return Profile() }
        let (naming, fields) = try row.decode((String, String).self)
        return Profile(cloneNaming: CloneNaming(rawValue: naming) ?? .none, fields: Self.decodeObject(fields))
    }

    public func updateProfile(user: User, body: [String: JSONValue]) async throws -> Profile {
        try await transaction { tx in
            // FOR UPDATE: two processes changing one profile apply one after the other.
            let current = try await tx.rows(
                "SELECT clone_naming, fields FROM profiles WHERE user_uuid = \(user.uuid) FOR UPDATE"
            ).first.map { row in
                let (naming, fields) = try row.decode((String, String).self)
                return Profile(cloneNaming: CloneNaming(rawValue: naming) ?? .none, fields: Self.decodeObject(fields))
            } ?? Profile()
            let next = try current.updated(with: body, user: user)
            try await tx.run(
                """
                INSERT INTO profiles (user_uuid, clone_naming, fields)
                VALUES (\(user.uuid), \(next.cloneNaming.rawValue), \(JSONValue.object(next.fields).jsonString))
                ON CONFLICT (user_uuid) DO UPDATE SET clone_naming = excluded.clone_naming, fields = excluded.fields
                """)
            return next
        }
    }

    // MARK: Sessions

    public func createSession(userUUID: String, lifetime: TimeInterval, now: Date) async throws -> IssuedSession {
        let key = Credentials.randomToken(bytes: 20)
        let csrf = Credentials.randomToken(bytes: 24)
        let expires = now.addingTimeInterval(lifetime)
        try await transaction { tx in
            // Expired sessions go when new ones come: the table stays the size of the live ones.
            try await tx.run("DELETE FROM sessions WHERE expires_at < \(now.timeIntervalSince1970)")
            try await tx.run(
                """
                INSERT INTO sessions (key_hash, user_uuid, csrf_token, created_at, expires_at)
                VALUES (\(Credentials.sha256(key)), \(userUUID), \(csrf), \(now.timeIntervalSince1970),
                    \(expires.timeIntervalSince1970))
                """)
        }
        return IssuedSession(key: key, csrfToken: csrf, expiresAt: expires)
    }

    public func session(key: String, now: Date) async throws -> ActiveSession? {
        try await rows(
            """
            SELECT u.uuid, u.email, u.created_at, s.csrf_token, s.expires_at
            FROM sessions s JOIN users u ON u.uuid = s.user_uuid
            WHERE s.key_hash = \(Credentials.sha256(key)) AND s.expires_at > \(now.timeIntervalSince1970)
            """
        ).first.map { row in
            let (uuid, email, createdAt, csrf, expires) = try row.decode((String, String, String, String, Double).self)
            return ActiveSession(
                user: User(uuid: uuid, email: email, createdAt: createdAt), csrfToken: csrf,
                expiresAt: Date(timeIntervalSince1970: expires))
        }
    }

    public func deleteSession(key: String) async throws -> Bool {
        try await rows("DELETE FROM sessions WHERE key_hash = \(Credentials.sha256(key)) RETURNING 1").count > 0
    }

    // MARK: Tokens

    public func createToken(user uuidOrEmail: String, expiresIn: TimeInterval?, now: Date) async throws -> IssuedToken {
        if let expiresIn, !(expiresIn > 0) { throw UserError.invalidExpiry }
        guard let user = try await user(uuidOrEmail) else { throw UserError.noSuchUser(uuidOrEmail) }
        let token = "dsd_" + Credentials.randomToken(bytes: 32)
        let id = String(Credentials.hex(Credentials.sha256(token)).prefix(12))
        let info = TokenInfo(
            id: id, userUUID: user.uuid, email: user.email, createdAt: Timestamp.now(),
            expiresAt: expiresIn.map { now.addingTimeInterval($0) })
        _ = try await rows(
            """
            INSERT INTO api_tokens (token_hash, id, user_uuid, created_at, expires_at)
            VALUES (\(Credentials.sha256(token)), \(id), \(user.uuid), \(info.createdAt), \(info.expiresAt?.timeIntervalSince1970))
            """)
        return IssuedToken(token: token, info: info)
    }

    public func tokens(user uuidOrEmail: String) async throws -> [TokenInfo] {
        guard let user = try await user(uuidOrEmail) else { throw UserError.noSuchUser(uuidOrEmail) }
        return try await rows(
            "SELECT id, created_at, expires_at FROM api_tokens WHERE user_uuid = \(user.uuid) ORDER BY created_at, id"
        ).map { row in
            let (id, createdAt, expires) = try row.decode((String, String, Double?).self)
            return TokenInfo(
                id: id, userUUID: user.uuid, email: user.email, createdAt: createdAt,
                expiresAt: expires.map { Date(timeIntervalSince1970: $0) })
        }
    }

    public func revokeToken(_ tokenOrID: String) async throws -> Bool {
        guard Self.storable(tokenOrID) else { return false }
        return try await rows(
            "DELETE FROM api_tokens WHERE token_hash = \(Credentials.sha256(tokenOrID)) OR id = \(tokenOrID) RETURNING 1"
        ).count > 0
    }

    public func tokenUser(token: String, now: Date) async throws -> (user: User, expiresAt: Date?)? {
        guard
            let row = try await rows(
                """
                SELECT u.uuid, u.email, u.created_at, t.expires_at
                FROM api_tokens t JOIN users u ON u.uuid = t.user_uuid
                WHERE t.token_hash = \(Credentials.sha256(token))
                    AND (t.expires_at IS NULL OR t.expires_at > \(now.timeIntervalSince1970))
                """
            ).first
        else { return nil }
        let (uuid, email, createdAt, expires) = try row.decode((String, String, String, Double?).self)
        return (User(uuid: uuid, email: email, createdAt: createdAt), expires.map { Date(timeIntervalSince1970: $0) })
    }

    // MARK: Server-wide values

    public func credentialEpoch() async throws -> Int64 {
        try await rows("SELECT value FROM credential_epoch WHERE id = 1").first?.decode(Int64.self) ?? 0
    }

    public func secret(named name: String) async throws -> [UInt8] {
        // The first process to ask makes the secret; every other one reads the same value.
        let fresh = Data(Credentials.randomBytes(32))
        _ = try await rows("INSERT INTO server_secrets (name, value) VALUES (\(name), \(fresh)) ON CONFLICT (name) DO NOTHING")
        guard let value = try await rows("SELECT value FROM server_secrets WHERE name = \(name)").first?.decode(Data.self)
        else { return Array(fresh) }
        return Array(value)
    }

    // MARK: Helpers

    /// Whether PostgreSQL can hold `text` (no NUL character): a value that cannot be stored
    /// matches no stored one.
    static func storable(_ text: String) -> Bool {
        !text.unicodeScalars.contains("\u{0}")
    }

    static func user(_ row: PostgresRow) throws -> User {
        let (uuid, email, createdAt) = try row.decode((String, String, String).self)
        return User(uuid: uuid, email: email, createdAt: createdAt)
    }

    static func decodeObject(_ text: String) -> [String: JSONValue] {
        guard case .object(let object)? = try? JSONParser.parse(Array(text.utf8)) else { return [:] }
        return object
    }
}
