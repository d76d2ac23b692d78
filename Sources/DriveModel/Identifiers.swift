import Foundation

/// The one generator of identifiers for new objects: drives, jobs, servers, tags, accounts,
/// fault sets, request ids.
public enum Identifiers {
    /// A UUID in the usual lowercase 8-4-4-4-12 form, RFC 9562 version 7: 48 bits of Unix time in
    /// milliseconds, then 74 random bits. Clients treat uuids as opaque strings; being ordered by
    /// creation time, drives created together land next to each other in the uuid index, so an
    /// insert touches the index's last page instead of a random one (random version-4 uuids made
    /// three quarters of the pages a bulk create wrote to the WAL).
    public static func make(now: Date = Date()) -> String {
        let ms = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: ms >> (8 * UInt64(5 - i))) }
        var random = SystemRandomNumberGenerator()
        let low = random.next() as UInt64, high = random.next() as UInt64
        for i in 0..<8 { bytes[8 + i] = UInt8(truncatingIfNeeded: low >> (8 * UInt64(i))) }
        bytes[6] = 0x70 | UInt8(truncatingIfNeeded: high & 0x0F)
        bytes[7] = UInt8(truncatingIfNeeded: high >> 8)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return format(bytes)
    }

    static func format(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
