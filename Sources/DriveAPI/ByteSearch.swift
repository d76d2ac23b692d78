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
        func search(_ haystack: UnsafeBufferPointer<UInt8>) -> Bool {
            guard haystack.count >= count else { return false }
            let first = pattern[0]
            var i = 0
            let last = haystack.count - count
            while i <= last {
                let b = haystack[i]
                if b == first || (ignoringCase && b | 0x20 == first && first >= UInt8(ascii: "a") && first <= UInt8(ascii: "z")) {
                    var j = 1
                    while j < count {
                        let h = haystack[i + j]
                        let p = pattern[j]
                        if h != p && !(ignoringCase && h | 0x20 == p && p >= UInt8(ascii: "a") && p <= UInt8(ascii: "z")) { break }
                        j += 1
                    }
                    if j == count { return true }
                }
                i += 1
            }
            return false
        }
        if let found = utf8.withContiguousStorageIfAvailable(search) { return found }
        return Array(utf8).withUnsafeBufferPointer(search)
    }
}
