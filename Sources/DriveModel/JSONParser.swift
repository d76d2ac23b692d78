/// A strict RFC 8259 JSON parser over bytes, for request bodies and the JSON columns.
///
/// It replaces Foundation's `JSONDecoder` + `Decodable` on the hot paths: that pair tried every
/// JSON type in turn for every value (each miss a thrown error), which cost more than the rest of a
/// bulk create. Semantics match what the API promised before: numbers without a fraction or an
/// exponent are `.int` when they fit in 64 bits, and a number with a fraction or exponent whose
/// value is integral and exactly representable (`1.0`, `1e3`) is `.int` too, as the decoder gave
/// it; strings must be valid UTF-8 without raw control characters; nesting is limited; a repeated
/// key keeps its last value.
public struct JSONParser {
    public struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        public var offset: Int
        public var reason: String
        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// Deeper documents are refused (Foundation's decoder stops at 512 too).
    public static let maximumDepth = 512

    /// Parses one JSON document (surrounding whitespace allowed, nothing else).
    public static func parse<Bytes: Collection>(_ bytes: Bytes) throws(Error) -> JSONValue where Bytes.Element == UInt8 {
        let result =
            bytes.withContiguousStorageIfAvailable { buffer in parseResult(UnsafeRawBufferPointer(buffer)) }
            ?? Array(bytes).withUnsafeBytes { buffer in parseResult(buffer) }
        return try result.get()
    }

    /// `keepFloats`: a number written with a fraction or an exponent stays a `.double` even when
    /// integral (`1073741824.0`), for documents served as they were captured; request bodies
    /// are parsed without it (an integral number is an integer).
    public static func parse(_ text: String, keepFloats: Bool = false) throws(Error) -> JSONValue {
        var text = text
        return try text.withUTF8 { buffer in parseResult(UnsafeRawBufferPointer(buffer), keepFloats: keepFloats) }.get()
    }

    static func parseResult(_ buffer: UnsafeRawBufferPointer, keepFloats: Bool = false) -> Result<JSONValue, Error> {
        do throws(Error) {
            return .success(try parseBuffer(buffer, keepFloats: keepFloats))
        } catch {
            return .failure(error)
        }
    }

    static func parseBuffer(_ buffer: UnsafeRawBufferPointer, keepFloats: Bool = false) throws(Error) -> JSONValue {
        var parser = Cursor(bytes: buffer)
        parser.keepFloats = keepFloats
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == buffer.count else { throw parser.error("Unexpected content after the document") }
        return value
    }

    struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        var keepFloats = false

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        func error(_ reason: String) -> Error { Error(offset: index, reason: reason) }

        var atEnd: Bool { index >= bytes.count }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x0A, 0x0D, 0x09: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(Error) -> JSONValue {
            guard index < bytes.count else { throw error("Unexpected end of the document") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw error("Unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws(Error) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw error("Invalid literal") }
            let expected = UnsafeRawBufferPointer(start: word.utf8Start, count: count)
            for i in 0..<count where bytes[index + i] != expected[i] { throw error("Invalid literal") }
            index += count
        }

        mutating func object(depth: Int) throws(Error) -> JSONValue {
            guard depth <= JSONParser.maximumDepth else { throw error("The document is nested too deeply") }
            index += 1  // {
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("Expected a key") }
                let key = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("Expected ':'") }
                index += 1
                skipWhitespace()
                members[key] = try value(depth: depth)
                skipWhitespace()
                guard index < bytes.count else { throw error("Unterminated object") }
                switch bytes[index] {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"): index += 1; return .object(members)
                default: throw error("Expected ',' or '}'")
                }
            }
        }

        mutating func array(depth: Int) throws(Error) -> JSONValue {
            guard depth <= JSONParser.maximumDepth else { throw error("The document is nested too deeply") }
            index += 1  // [
            var elements: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try value(depth: depth))
                skipWhitespace()
                guard index < bytes.count else { throw error("Unterminated array") }
                switch bytes[index] {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"): index += 1; return .array(elements)
                default: throw error("Expected ',' or ']'")
                }
            }
        }

        mutating func string() throws(Error) -> String {
            index += 1  // opening quote
            let start = index
            // Fast path: no escapes.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    guard let s = String(validating: slice, as: UTF8.self) else {
                        throw Error(offset: start, reason: "Invalid UTF-8 in a string")
                    }
                    return s
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw error("Control character in a string") }
                index += 1
            }
            var out: [UInt8] = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    guard let s = String(validating: out, as: UTF8.self) else {
                        throw Error(offset: start, reason: "Invalid UTF-8 in a string")
                    }
                    return s
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { throw error("Unterminated escape") }
                    let escaped = bytes[index]
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = UInt32(try hex4())
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                            else { throw error("Unpaired surrogate in a string") }
                            index += 2
                            let low = UInt32(try hex4())
                            guard (0xDC00..<0xE000).contains(low) else { throw error("Unpaired surrogate in a string") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(scalar) {
                            throw error("Unpaired surrogate in a string")
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { throw error("Invalid escape") }
                        out.append(contentsOf: String(Character(unicode)).utf8)
                    default:
                        throw error("Invalid escape")
                    }
                default:
                    if byte < 0x20 { throw error("Control character in a string") }
                    out.append(byte)
                    index += 1
                }
            }
            throw error("Unterminated string")
        }

        mutating func hex4() throws(Error) -> UInt16 {
            guard index + 4 <= bytes.count else { throw error("Invalid \\u escape") }
            var value: UInt16 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw error("Invalid \\u escape")
                }
                value = value << 4 | UInt16(digit)
                index += 1
            }
            return value
        }

        mutating func digits() -> Int {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - start
        }

        mutating func number() throws(Error) -> JSONValue {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count else { throw error("Invalid number") }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else if digits() == 0 {
                throw error("Invalid number")
            }
            var integral = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw error("Invalid number") }
                integral = false
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw error("Invalid number") }
                integral = false
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if integral, let int = Int64(text) { return .int(int) }
            guard let double = Double(text), double.isFinite else { throw Error(offset: start, reason: "Number out of range") }
            if !keepFloats, double == double.rounded(.towardZero), abs(double) <= 9_007_199_254_740_992 {
                return .int(Int64(double))
            }
            return .double(double)
        }
    }
}
