/// Substring tests on the request path that do not go through Foundation: with Foundation
/// imported, `String.contains(_:)` is `NSString.range(of:)` (CFString's search), 1.2-2.5% of
/// the server's CPU on every API request in the round 3 profile (Benchmarks/README.md).
extension StringProtocol {
    /// Whether `needle` (ASCII) occurs in the UTF-8 bytes of `self`; with `ignoringCase`, ASCII
    /// letters match either case (the needle must be written in lower case).
    func containsASCII(_ needle: StaticString, ignoringCase: Bool = false) -> Bool {
        let count = needle.utf8CodeUnitCount
        if count == 0 { return true }
        let pattern = UnsafeBufferPointer(start: needle.utf8Start, count: count)
        // A pattern byte `p` and a text byte `h` match when equal, or, ignoring case, when `p` is
        // a lower-case letter and `h` is that letter in either case.
        @inline(__always) func same(_ h: UInt8, _ p: UInt8) -> Bool {
            h == p || (ignoringCase && p >= UInt8(ascii: "a") && p <= UInt8(ascii: "z") && h | 0x20 == p)
        }
        func search(_ haystack: UnsafeBufferPointer<UInt8>) -> Bool {
            guard haystack.count >= count else { return false }
            for start in 0...(haystack.count - count) {
                var j = 0
                while j < count && same(haystack[start + j], pattern[j]) { j += 1 }
                if j == count { return true }
            }
            return false
        }
        if let found = utf8.withContiguousStorageIfAvailable(search) { return found }
        return Array(utf8).withUnsafeBufferPointer(search)
    }
}
