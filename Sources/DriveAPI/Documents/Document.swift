import DriveModel
import DriveStorage
import Foundation
import Hummingbird

/// A JSON document rendered once and served as is.
struct Document: Sendable {
    let bytes: [UInt8]

    init(_ text: String) {
        self.init((try? JSONParser.parse(text)) ?? .object([:]))
    }

    /// A document embedded as data (`Documents/schemas/`).
    init(_ data: [UInt8]) {
        self.init((try? JSONParser.parse(data)) ?? .object([:]))
    }

    init(_ value: JSONValue) {
        bytes = value.jsonBytes
    }

    var response: Response { .json(bytes: bytes) }
}
