/// One CloudSigma API error: rendered as the array `[{"error_point","error_type","error_message"}]`
/// with the HTTP status of reference §2.2.
public struct CloudSigmaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `error_type` values of the reference, each with its HTTP status.
    public enum Kind: String, Sendable {
        case validation, notexist, permission, backend, database, concurrency, billing, payment
        /// Not a CloudSigma type: method not allowed (405).
        case method
        /// Not a CloudSigma type: request body over the configured limit (413).
        case tooLarge
        /// A range already uploaded, or outside the content (416, `validation`).
        case rangeNotSatisfiable
        /// The data directory is full (507, `backend`).
        case insufficientStorage
        /// No format the client accepts can be served (406, `validation`).
        case notAcceptable
        /// Not a CloudSigma type: the request conflicts with what exists (409, `validation`): a
        /// state's name in use, uuids another account holds.
        case conflict

        public var status: Int {
            switch self {
            case .validation: 400
            case .notexist: 404
            case .permission: 403
            case .concurrency: 503
            case .billing, .payment: 402
            case .backend, .database: 500
            case .method: 405
            case .tooLarge: 413
            case .rangeNotSatisfiable: 416
            case .insufficientStorage: 507
            case .notAcceptable: 406
            case .conflict: 409
            }
        }

        /// The `error_type` string sent to clients.
        public var wireName: String {
            switch self {
            case .method: "permission"
            case .tooLarge, .rangeNotSatisfiable, .notAcceptable, .conflict: "validation"
            case .insufficientStorage: "backend"
            default: rawValue
            }
        }
    }

    public var kind: Kind
    public var point: String?
    public var message: String
    /// Seconds a client should wait before retrying (sent as `Retry-After`).
    public var retryAfter: Int?

    public init(_ kind: Kind, point: String? = nil, _ message: String, retryAfter: Int? = nil) {
        self.kind = kind
        self.point = point
        self.message = message
        self.retryAfter = retryAfter
    }

    public var status: Int { kind.status }

    public var description: String { "\(kind.wireName)(\(point ?? "-")): \(message)" }

    public static func validation(_ point: String?, _ message: String) -> CloudSigmaError {
        CloudSigmaError(.validation, point: point, message)
    }

    public static func notExist(_ uuid: String) -> CloudSigmaError {
        CloudSigmaError(.notexist, "Object with uuid \(uuid) does not exist")
    }

    public static func permission(_ message: String, point: String? = nil) -> CloudSigmaError {
        CloudSigmaError(.permission, point: point, message)
    }

    public static func methodNotAllowed(_ method: String, allowed: [String]) -> CloudSigmaError {
        CloudSigmaError(
            .method,
            "Method \(method) is not allowed here. Allowed methods: \(allowed.joined(separator: ", "))"
        )
    }

    /// The error array body.
    public var body: JSONValue {
        .array([
            .object([
                "error_point": point.map(JSONValue.string) ?? .null,
                "error_type": .string(kind.wireName),
                "error_message": .string(message),
            ])
        ])
    }
}
