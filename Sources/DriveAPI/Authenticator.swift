import Crypto
import DriveStorage
import Foundation
import Synchronization

/// Verifies HTTP Basic credentials.
///
/// The password hash is deliberately slow, so verified credentials are remembered for a while in
/// a bounded in-memory cache keyed by an HMAC of the `Authorization` header under a per-process
/// random key: neither the password nor a fast unkeyed hash of it is ever kept. Only a client's
/// first request (and the first after the entry expires) pays the KDF; the others pay one HMAC
/// of the header and a lookup, without decoding it.
public final class Authenticator: Sendable {
    let accounts: any AccountRepository
    public let realm: String
    let ttl: Duration
    let capacity: Int
    /// HMAC-SHA256 keyed with a per-process random key, its key schedule done once.
    let mac = HMAC<SHA256>(key: SymmetricKey(size: .bits256))
    let cache = Mutex<[CacheKey: Entry]>([:])

    /// The 256-bit HMAC of a header.
    struct CacheKey: Hashable {
        let a: UInt64, b: UInt64, c: UInt64, d: UInt64
    }

    struct Entry {
        let user: User
        let expires: ContinuousClock.Instant
    }

    public init(accounts: any AccountRepository, realm: String = "users", ttl: Duration = .seconds(300), capacity: Int = 10_000) {
        self.accounts = accounts
        self.realm = realm
        self.ttl = ttl
        self.capacity = max(1, capacity)
    }

    /// The user an `Authorization` header names, or nil when it names none.
    public func authenticate(authorization: String) async throws -> User? {
        let cacheKey = self.cacheKey(authorization)
        let now = ContinuousClock.now
        if let entry = cache.withLock({ $0[cacheKey] }), entry.expires > now {
            return entry.user
        }
        guard let (email, password) = Self.parseBasic(authorization),
            let user = try await accounts.verifyUser(email: email, password: password)
        else { return nil }
        cache.withLock { cache in
            if cache.count >= capacity {
                cache = cache.filter { $0.value.expires > now }
                if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            }
            cache[cacheKey] = Entry(user: user, expires: now + ttl)
        }
        return user
    }

    func cacheKey(_ header: String) -> CacheKey {
        var mac = self.mac
        var header = header
        header.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        return mac.finalize().withUnsafeBytes { raw in
            CacheKey(
                a: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), b: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                c: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), d: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        }
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
