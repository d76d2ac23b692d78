import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

extension Request {
    /// The JSON body, or nil when the body is empty. Malformed JSON (including invalid UTF-8 and
    /// over-deep nesting) is `400 validation`; a body over `limit` is `413`.
    func jsonBody(limit: Int) async throws -> JSONValue? {
        var request = self
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw CloudSigmaError(.tooLarge, "The request body is larger than the limit of \(limit) bytes")
        } catch is NIOTooManyBytesError {
            throw CloudSigmaError(.tooLarge, "The request body is larger than the limit of \(limit) bytes")
        }
        let bytes = buffer.readableBytesView
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return nil }
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw CloudSigmaError.validation(nil, "Malformed JSON in the request body")
        }
    }
}

/// The query string as ordered (name, value) pairs, percent-decoded.
struct QueryParameters {
    let pairs: [(name: String, value: String)]

    /// Parses the raw query as HTML forms encode it: `&`-separated `name=value`, `+` meaning a
    /// space (requests, libcloud and Go's url.Values all send one), then percent-decoding.
    init(_ uri: URI) {
        var pairs: [(String, String)] = []
        for item in (uri.query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            pairs.append((name, value))
        }
        self.pairs = pairs
    }

    static func decode(_ raw: Substring) -> String {
        // Most names and values (limit=20, fields=uuid) need no decoding at all.
        if !raw.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "%") }) { return String(raw) }
        let spaced = raw.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// The last value given for `name` (the last parameter wins, reference §1.3).
    subscript(name: String) -> String? { pairs.last { $0.name == name }?.value }

    func all(_ name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }

    /// `limit` (default 20; 0 means every object) and `offset`.
    func page(defaultLimit: Int = 20) throws -> (limit: Int?, echoedLimit: Int, offset: Int) {
        var limit = defaultLimit
        if let raw = self["limit"] {
            guard let value = Int(raw), value >= 0 else {
                throw CloudSigmaError.validation("limit", "limit must be a non-negative integer, got \"\(raw)\"")
            }
            limit = value
        }
        var offset = 0
        if let raw = self["offset"] {
            guard let value = Int(raw), value >= 0 else {
                throw CloudSigmaError.validation("offset", "offset must be a non-negative integer, got \"\(raw)\"")
            }
            offset = value
        }
        return (limit == 0 ? nil : limit, limit, offset)
    }

    /// `fields=a,b`: the keys each object keeps, or nil for all.
    var fields: [String]? {
        guard let raw = self["fields"] else { return nil }
        let fields = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return fields.isEmpty ? nil : fields
    }

    /// Splits a filter value on commas (OR), honouring `\,` (a literal comma) and `\\,` (a literal
    /// backslash before a separating comma), reference §1.7.
    static func splitFilter(_ value: String) -> [String] {
        var parts: [String] = []
        var current = ""
        let chars = Array(value)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "\\" {
                if i + 1 < chars.count, chars[i + 1] == "," {
                    current.append(",")
                    i += 2
                    continue
                }
                if i + 2 < chars.count, chars[i + 1] == "\\", chars[i + 2] == "," {
                    current.append("\\")
                    parts.append(current)
                    current = ""
                    i += 3
                    continue
                }
                current.append(c)
            } else if c == "," {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
            i += 1
        }
        parts.append(current)
        return parts
    }

    /// The drive list query: filters `name`, `name__contains`, `uuid` (and `tag`, `tag__name`),
    /// `order_by`, `limit`, `offset`.
    func driveQuery() throws -> (query: DriveQuery, echoedLimit: Int) {
        var query = DriveQuery()
        let page = try page()
        query.limit = page.limit
        query.offset = page.offset
        for value in all("name") { query.exact.append((.name, Self.splitFilter(value))) }
        for value in all("uuid") { query.exact.append((.uuid, Self.splitFilter(value))) }
        for value in all("name__contains") + all("name__icontains") {
            query.nameContains.append(Self.splitFilter(value))
        }
        if let raw = self["order_by"] {
            for item in raw.split(separator: ",") {
                let descending = item.hasPrefix("-")
                let name = descending ? String(item.dropFirst()) : String(item)
                guard let field = DriveQuery.Field(rawValue: name) else {
                    throw CloudSigmaError.validation(
                        "order_by", "Cannot order by \"\(name)\"; the fields allowed are: uuid, name")
                }
                query.order.append((field, descending))
            }
        }
        query.tags = all("tag").map(Self.splitFilter)
        query.tagNames = all("tag__name").map(Self.splitFilter)
        return (query, page.echoedLimit)
    }
}
