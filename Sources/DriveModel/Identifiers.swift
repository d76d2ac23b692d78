import Foundation
import Synchronization

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
        let (low, high) = RandomPool.shared.pair()
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

/// Random 64-bit words from the system's generator, fetched 4 KiB at a time: one read of
/// `/dev/urandom` for 256 identifiers instead of two a identifier (a request id is made for every request).
final class RandomPool: Sendable {
    static let shared = RandomPool()

    let state = Mutex<(words: [UInt64], next: Int)>(([], 0))

    func pair() -> (UInt64, UInt64) {
        state.withLock { state in
            if state.next + 2 > state.words.count {
                state.words = Self.fill(512)
                state.next = 0
            }
            defer { state.next += 2 }
            return (state.words[state.next], state.words[state.next + 1])
        }
    }

    static func fill(_ count: Int) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: count)
        // The kernel's generator, read in bulk (the same source `SystemRandomNumberGenerator`
        // asks one word at a time).
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            let filled = words.withUnsafeMutableBytes { raw -> Bool in
                var offset = 0
                while offset < raw.count {
                    let n = read(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n > 0 {
                        offset += n
                    } else if n < 0 && errno == EINTR {
                        continue
                    } else {
                        return false
                    }
                }
                return true
            }
            if filled { return words }
        }
        var generator = SystemRandomNumberGenerator()
        for i in words.indices { words[i] = generator.next() }
        return words
    }
}
