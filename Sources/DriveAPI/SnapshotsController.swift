import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/snapshots/`: point-in-time copies of drives (decision 16, contract §1).
struct SnapshotsController {
    let snapshots: any SnapshotRepository
    let settings: APISettings

    var input: DriveInput { DriveInput(catalogue: settings.catalogue) }
    static let limits = SnapshotLimits()

    func register(on group: RouterGroup<DrivesRequestContext>) {
        let schema = Document(StaticDocuments.snapshotSchema)
        // Both lists answer full objects (§1.1).
        group.resource("snapshots", get: list, put: bulkUpdate, delete: bulkDelete, post: create)
        group.resource("snapshots/detail", get: list)
        group.resource("snapshots/schema", get: { _, _ in schema.response })
        group.resource("snapshots/:uuid", get: get, put: update, delete: delete)
        group.resource("snapshots/:uuid/action", post: action)
    }

    @Sendable func list(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let parameters = QueryParameters(request.uri)
        var query = SnapshotQuery()
        let page = try parameters.page()
        query.filters.limit = page.limit
        query.filters.offset = page.offset
        for value in parameters.all("name") { query.filters.exact.append((.name, QueryParameters.splitFilter(value))) }
        for value in parameters.all("uuid") { query.filters.exact.append((.uuid, QueryParameters.splitFilter(value))) }
        for value in parameters.all("name__contains") + parameters.all("name__icontains") {
            query.filters.nameContains.append(QueryParameters.splitFilter(value))
        }
        query.filters.tags = parameters.all("tag").map(QueryParameters.splitFilter)
        query.filters.tagNames = parameters.all("tag__name").map(QueryParameters.splitFilter)
        // A drive's uuid or URI.
        query.drives = parameters.all("drive").map {
            QueryParameters.splitFilter($0).map { APIPath.relatedID(.string($0), collection: "drives") ?? $0 }
        }
        if let raw = parameters["order_by"] {
            for item in raw.split(separator: ",") {
                let descending = item.hasPrefix("-")
                let name = descending ? String(item.dropFirst()) : String(item)
                guard let field = SnapshotQuery.Field(rawValue: name) else {
                    throw CloudSigmaError.validation(
                        "order_by", "Cannot order by \"\(name)\"; the fields allowed are: name, timestamp, uuid")
                }
                query.order.append((field, descending))
            }
        }
        let (total, found) = try await snapshots.list(owner: owner, query: query)
        var objects = found.map(\.json)
        if let fields = parameters.fields { objects = objects.map { $0.projected(to: fields) } }
        return .json(ListPage(limit: page.echoedLimit, offset: page.offset, totalCount: total, objects: objects).json)
    }

    @Sendable func get(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let snapshot = try await snapshots.snapshot(owner: owner, uuid: try context.parameters.require("uuid"))
        if let fields = QueryParameters(request.uri).fields { return .json(snapshot.json.projected(to: fields)) }
        return .json(snapshot.json)
    }

    @Sendable func create(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let objects = try DriveInput.objects(of: try await request.jsonBody(limit: settings.bodyLimit))
        guard !objects.isEmpty else { throw CloudSigmaError.validation("objects", "No snapshot to create") }
        let specs = try objects.enumerated().map { index, object in
            try DrivesController.prefixed(index, count: objects.count) { try spec(object) }
        }
        let made = try await snapshots.create(owner: owner, specs: specs, limits: Self.limits, now: Date())
        var headers = HTTPFields()
        headers[.location] = made.first?.resourceURI
        return .json(.object(["objects": .array(made.map(\.json))]), status: .created, headers: headers)
    }

    @Sendable func update(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let uuid = try context.parameters.require("uuid")
        guard let body = try await request.jsonBody(limit: settings.bodyLimit) else {
            throw CloudSigmaError.validation(nil, "The request body is empty")
        }
        _ = try await snapshots.snapshot(owner: owner, uuid: uuid)
        let updated = try await snapshots.update(owner: owner, changes: [try changes(body, uuid: uuid)], now: Date())
        return .json(updated[0].json)
    }

    @Sendable func delete(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        try await snapshots.delete(owner: owner, uuids: [try context.parameters.require("uuid")])
        return .noContent
    }

    @Sendable func bulkUpdate(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let objects = try DriveInput.objects(of: try await request.jsonBody(limit: settings.bodyLimit))
        let changes = try objects.enumerated().map { index, object in
            try DrivesController.prefixed(index, count: objects.count) { try self.changes(object, uuid: nil) }
        }
        let updated = try await snapshots.update(owner: owner, changes: changes, now: Date())
        return .json(.object(["objects": .array(updated.map(\.json))]))
    }

    @Sendable func bulkDelete(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let objects = try DriveInput.objects(of: try await request.jsonBody(limit: settings.bodyLimit))
        let uuids = try objects.map { object in
            guard let uuid = APIPath.relatedID(object, collection: "snapshots") else {
                throw CloudSigmaError.validation("uuid", "Each object of a bulk delete needs its uuid")
            }
            return uuid
        }
        try await snapshots.delete(owner: owner, uuids: uuids)
        return .noContent
    }

    /// `?do=clone`: a bare drive in `cloning_dst` (S1), 202.
    @Sendable func action(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let uuid = try context.parameters.require("uuid")
        switch QueryParameters(request.uri)["do"] {
        case "clone":
            // S2: the clone keeps the drive's storage type; a `storage_type` in the body is ignored
            // like any other key the documented body does not have.
            var body = try await request.jsonBody(limit: settings.bodyLimit)
            if case .object(var object)? = body {
                object.removeValue(forKey: "storage_type")
                body = .object(object)
            }
            let cloneRequest = try input.cloneRequest(body)
            let drive = try await snapshots.clone(
                owner: owner, uuid: uuid, request: cloneRequest, avoid: DrivesController.avoid(request), now: Date())
            return .json(bytes: drive.detailJSONBytes, status: .accepted)
        case nil:
            throw CloudSigmaError.validation("do", "The action is missing: add ?do=<action>")
        case let other?:
            throw CloudSigmaError.validation("do", "Unknown action \"\(other)\" for snapshots")
        }
    }

    // MARK: Bodies

    func spec(_ value: JSONValue) throws -> SnapshotSpec {
        guard case .object(let o) = value else {
            throw CloudSigmaError.validation(nil, "Expected a snapshot object, got \(value.typeName)")
        }
        guard let driveValue = o["drive"], driveValue != .null else {
            throw CloudSigmaError.validation("drive", "The drive to snapshot is missing")
        }
        guard let drive = APIPath.relatedID(driveValue, collection: "drives") else {
            throw CloudSigmaError.validation("drive", "drive must be a uuid, a drive URI or an object with its uuid")
        }
        let input = self.input
        return SnapshotSpec(
            drive: drive, name: try input.optional(o, "name", input.string),
            meta: try input.optional(o, "meta", input.meta) ?? [:], tags: try input.optional(o, "tags", input.tags) ?? [])
    }

    func changes(_ value: JSONValue, uuid: String?) throws -> SnapshotChanges {
        guard case .object(let o) = value else {
            throw CloudSigmaError.validation(nil, "Expected a snapshot object, got \(value.typeName)")
        }
        let target: String
        if let uuid {
            target = uuid
        } else {
            guard let given = o["uuid"].flatMap({ APIPath.relatedID($0, collection: "snapshots") }) else {
                throw CloudSigmaError.validation("uuid", "Each object of a bulk update needs its uuid")
            }
            target = given
        }
        var drive: String?
        if let driveValue = o["drive"], driveValue != .null {
            guard let id = APIPath.relatedID(driveValue, collection: "drives") else {
                throw CloudSigmaError.validation("drive", "drive must be a uuid, a drive URI or an object with its uuid")
            }
            drive = id
        }
        let input = self.input
        return SnapshotChanges(
            uuid: target, drive: drive, name: try input.optional(o, "name", input.string),
            meta: try input.optional(o, "meta", input.meta), tags: try input.optional(o, "tags", input.tags))
    }
}
