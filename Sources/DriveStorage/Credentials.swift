import Crypto
import CryptoExtras
import DriveModel
import Foundation

// Credential hashing both storage implementations share: what a stored password, session key,
// token or Digest HA1 is made of does not depend on the engine that keeps it.

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

    /// ``hash(_:salt:iterations:)`` off the calling thread (about 100 ms at the default).
    public static func hashOffThread(_ password: String, salt: [UInt8], iterations: Int) async throws -> [UInt8] {
        try await Offload.run { try hash(password, salt: salt, iterations: iterations) }
    }

    public static func newSalt() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// Constant-time comparison.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

/// Hashes and random values of credentials.
public enum Credentials {
    /// HA1 of Digest (RFC 7616, MD5): MD5(email:users:password), lower-case hex.
    public static func digestHA1(email: String, password: String, realm: String = "users") -> String {
        md5Hex("\(email):\(realm):\(password)")
    }

    public static func md5Hex(_ text: String) -> String {
        hex(Array(Insecure.MD5.hash(data: Array(text.utf8))))
    }

    public static func sha256(_ text: String) -> Data {
        Data(SHA256.hash(data: Array(text.utf8)))
    }

    public static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func randomBytes(_ count: Int) -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// `bytes` random bytes, URL-safe base64 without padding.
    public static func randomToken(bytes: Int) -> String {
        Data(randomBytes(bytes)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
