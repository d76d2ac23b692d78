/// Paths of the API's objects, and `{"resource_uri","uuid"}` references to them.
public enum APIPath {
    public static let prefix = "/api/2.0/"

    public static func uri(_ collection: String, _ id: String) -> String {
        "\(prefix)\(collection)/\(id)/"
    }

    /// `{"resource_uri": "/api/2.0/<collection>/<uuid>/", "uuid": "<uuid>"}`
    public static func reference(_ collection: String, _ uuid: String) -> JSONValue {
        .object(["resource_uri": .string(uri(collection, uuid)), "uuid": .string(uuid)])
    }

    /// Extracts the id from a related field given as a bare id, a URI of `collection`, or an object
    /// with `uuid` (or `resource_uri`). Returns nil when the value has none of these shapes.
    public static func relatedID(_ value: JSONValue, collection: String, idKey: String = "uuid") -> String? {
        switch value {
        case .string(let s):
            return idFromURIOrBare(s, collection: collection)
        case .int(let i):
            return String(i)
        case .object(let o):
            if let id = o[idKey] {
                if case .string(let s) = id { return s }
                if case .int(let i) = id { return String(i) }
            }
            if case .string(let uri)? = o["resource_uri"] {
                return idFromURIOrBare(uri, collection: collection)
            }
            return nil
        default:
            return nil
        }
    }

    static func idFromURIOrBare(_ s: String, collection: String) -> String? {
        // Split on the "/" scalar, not on grapheme clusters: a "/" followed by a combining
        // character is still a separator.
        var scalars = Array(s.unicodeScalars)
        if scalars.last == "/" { scalars.removeLast() }
        if scalars.contains("/") {
            let parts = scalars.split(separator: "/", omittingEmptySubsequences: true).map { String(String.UnicodeScalarView($0)) }
            guard parts.count >= 2, parts[parts.count - 2] == collection else { return nil }
            return parts[parts.count - 1]
        }
        return scalars.isEmpty ? nil : String(String.UnicodeScalarView(scalars))
    }
}
