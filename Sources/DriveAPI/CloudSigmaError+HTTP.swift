import DriveModel
import DriveStorage
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

@_exported import struct DriveModel.CloudSigmaError

extension CloudSigmaError {
    /// `401`: missing or wrong credentials.
    static var unauthorized: CloudSigmaError {
        CloudSigmaError(.permission, "Authentication credentials were not provided or are not valid")
    }
}

/// Marks the 401 apart from the 403 `permission` errors (they share `error_type`), with the
/// `WWW-Authenticate` challenges it carries, one header line each.
public struct UnauthorizedError: Error {
    let challenges: [String]
    /// Seconds until a throttled login may try again.
    var retryAfter: Int? = nil
    var message: String? = nil

    init(challenges: [String], retryAfter: Int? = nil, message: String? = nil) {
        self.challenges = challenges
        self.retryAfter = retryAfter
        self.message = message
    }

    init(realm: String) {
        self.init(challenges: ["Basic realm=\"\(realm)\""])
    }

    var response: Response {
        var body = CloudSigmaError.unauthorized
        if let message { body = CloudSigmaError(.permission, message) }
        if let retryAfter {
            body = CloudSigmaError(.permission, "Too many failed logins for this account from this address; retry in \(retryAfter) s")
        }
        var response = Response.json(body.body, status: .unauthorized)
        for challenge in challenges { response.headers.append(HTTPField(name: .wwwAuthenticate, value: challenge)) }
        if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }
}

extension Response {
    /// A JSON response, `application/json; charset=utf-8` (decision 12).
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        value.write(into: &bytes)
        return .json(bytes: bytes, status: status, headers: headers)
    }

    /// A JSON response from text already rendered.
    static func json(bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        .json(buffer: ByteBuffer(bytes: bytes), status: status, headers: headers)
    }

    /// A JSON response whose body is shared, not copied (a cached answer).
    static func json(buffer: ByteBuffer, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }

    /// The CloudSigma error array with the error's status.
    static func error(_ error: CloudSigmaError) -> Response {
        var headers = HTTPFields()
        if let retry = error.retryAfter { headers[.retryAfter] = String(retry) }
        return .json(error.body, status: .init(code: error.status), headers: headers)
    }

    /// `204`, empty body, as the real API sends it.
    static var noContent: Response {
        Response(status: .noContent, headers: [.contentType: "text/html; charset=utf-8"])
    }
}
