import Crypto
import DriveStore
import Foundation
import Synchronization

/// Verifies HTTP Basic credentials.
///
/// The password hash is deliberately slow, so verified credentials are remembered for a while in
/// a bounded in-memory cache keyed by an HMAC of the credentials under a per-process random key:
/// neither the password nor a fast unkeyed hash of it is ever kept. Only a client's first request
/// (and the first after the entry expires) pays the KDF.
public final class Authenticator: Sendable {
    let database: AppDatabase
    public let realm: String
    let ttl: Duration
    let capacity: Int
    let key = SymmetricKey(size: .bits256)
    let cache = Mutex<[Data: Entry]>([:])

    struct Entry {
        let user: User
        let expires: ContinuousClock.Instant
    }

    public init(database: AppDatabase, realm: String = "users", ttl: Duration = .seconds(300), capacity: Int = 10_000) {
        self.database = database
        self.realm = realm
        self.ttl = ttl
        self.capacity = max(1, capacity)
    }

    /// The user an `Authorization` header names, or nil when it names none.
    public func authenticate(authorization: String) async throws -> User? {
        guard let (email, password) = Self.parseBasic(authorization) else { return nil }
        let cacheKey = Data(HMAC<SHA256>.authenticationCode(for: Data("\(email)\u{0}\(password)".utf8), using: key))
        let now = ContinuousClock.now
        if let entry = cache.withLock({ $0[cacheKey] }), entry.expires > now {
            return entry.user
        }
        guard let user = try await database.verifyUser(email: email, password: password) else { return nil }
        cache.withLock { cache in
            if cache.count >= capacity {
                cache = cache.filter { $0.value.expires > now }
                if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            }
            cache[cacheKey] = Entry(user: user, expires: now + ttl)
        }
        return user
    }

    /// Forgets every cached credential (after users change).
    public func invalidate() {
        cache.withLock { $0.removeAll() }
    }

    /// `Basic base64(email:password)` → (email, password).
    static func parseBasic(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let decoded = String(data: data, encoding: .utf8),
            let colon = decoded.firstIndex(of: ":")
        else { return nil }
        let email = String(decoded[..<colon])
        let password = String(decoded[decoded.index(after: colon)...])
        guard !email.isEmpty else { return nil }
        return (email, password)
    }
}
