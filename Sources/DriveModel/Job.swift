/// A background job (reference §4). Only clones create jobs: `operation` is `drive_clone`.
public struct Job: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case started, success, failed
    }

    public var uuid: String
    public var operation: String
    public var state: State
    public var progress: Int
    /// Resource URIs (for a clone: the source and the new drive).
    public var resources: [String]
    public var created: String
    public var lastModified: String

    public init(
        uuid: String, operation: String, state: State, progress: Int, resources: [String], created: String,
        lastModified: String
    ) {
        self.uuid = uuid
        self.operation = operation
        self.state = state
        self.progress = progress
        self.resources = resources
        self.created = created
        self.lastModified = lastModified
    }

    public var resourceURI: String { APIPath.uri("jobs", uuid) }

    public var json: JSONValue {
        .object([
            "children": .array([]),
            "created": .string(created),
            "data": .object(["progress": .int(Int64(progress))]),
            "last_modified": .string(lastModified),
            "operation": .string(operation),
            "resource_uri": .string(resourceURI),
            "resources": .array(resources.map(JSONValue.string)),
            "state": .string(state.rawValue),
            "uuid": .string(uuid),
        ])
    }
}
