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

/// Marks the 401 apart from the 403 `permission` errors (they share `error_type`).
struct UnauthorizedError: Error {
    let realm: String
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
