import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore

/// `/drives/`: the Drives API (reference §3).
struct DrivesController {
    let drives: any DriveRepository
    let responses: ResponseCache
    let settings: APISettings
    /// Uploads (`do=upload_chunk`).
    let content: ContentController

    var input: DriveInput { DriveInput(catalogue: settings.catalogue) }
    var bodyLimit: Int { settings.bodyLimit }

    func register(on group: RouterGroup<DrivesRequestContext>) {
        let schema = Document(StaticDocuments.driveSchema)
        group.resource("drives", get: list(detail: false), put: bulkUpdate, delete: bulkDelete, post: create)
        group.resource("drives/detail", get: list(detail: true))
        group.resource("drives/schema", get: { _, _ in schema.response })
        group.resource("drives/availability_groups", get: { _, context in
            let groups = try await drives.availabilityGroups(owner: try context.requireUser().uuid)
            return .json(.array(groups.map { .array($0.map(JSONValue.string)) }))
        })
        group.resource("drives/availability_groups/:uuid", get: { _, context in
            let group = try await drives.availabilityGroup(
                owner: try context.requireUser().uuid, uuid: try context.parameters.require("uuid"))
            return .json(.array(group.map(JSONValue.string)))
        })
        group.resource("drives/:uuid", get: get, put: update, delete: delete)
        group.resource("drives/:uuid/action", post: action)
    }

    // MARK: Lists

    func list(detail: Bool) -> Handler {
        { request, context in
            let owner = try context.requireUser().uuid
            let query = QueryParameters(request.uri)
            let (driveQuery, echoedLimit) = try query.driveQuery()
            guard let fields = query.fields else {
                return try await responses.answer(request, owner: owner) {
                    let (total, found) = try await drives.list(owner: owner, query: driveQuery)
                    var writer = JSONWriter(capacity: 64 + found.count * (detail ? 1200 : 200))
                    writer.listPage(limit: echoedLimit, offset: driveQuery.offset, totalCount: total) {
                        $0.drives(found, detail: detail)
                    }
                    return writer.bytes
                }
            }
            // `fields` picks from the whole definition, also on the short list (pycloudsigma asks
            // `/drives/?fields=name,uuid`).
            let (total, found) = try await drives.list(owner: owner, query: driveQuery)
            let objects = found.map { $0.detailJSON.projected(to: fields) }
            return .json(
                ListPage(limit: echoedLimit, offset: driveQuery.offset, totalCount: total, objects: objects).json)
        }
    }

    // MARK: One drive

    @Sendable func get(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let uuid = try context.parameters.require("uuid")
        guard let fields = QueryParameters(request.uri).fields else {
            return try await responses.answer(request, owner: owner) {
                try await drives.drive(owner: owner, uuid: uuid).detailJSONBytes
            }
        }
        let drive = try await drives.drive(owner: owner, uuid: uuid)
        return .json(drive.detailJSON.projected(to: fields))
    }

    @Sendable func create(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let objects = try DriveInput.objects(of: try await request.jsonBody(limit: bodyLimit))
        guard !objects.isEmpty else { throw CloudSigmaError.validation("objects", "No drive to create") }
        let input = self.input
        let specs = try objects.enumerated().map { index, object in
            try Self.prefixed(index, count: objects.count) { try input.spec(object) }
        }
        let created = try await drives.create(owner: owner, specs: specs, avoid: Self.avoid(request))
        var headers = HTTPFields()
        headers[.location] = created.first?.resourceURI
        return .json(bytes: Self.objectsEnvelope(created), status: .created, headers: headers)
    }

    @Sendable func update(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let uuid = try context.parameters.require("uuid")
        guard let body = try await request.jsonBody(limit: bodyLimit) else {
            throw CloudSigmaError.validation(nil, "The request body is empty")
        }
        // An unknown drive is 404 before any complaint about the body.
        _ = try await drives.drive(owner: owner, uuid: uuid)
        let changes = try input.changes(body, uuid: uuid)
        let drive = try await drives.update(owner: owner, changes: changes, mode: .edit)
        return .json(bytes: drive.detailJSONBytes)
    }

    @Sendable func delete(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let uuid = try context.parameters.require("uuid")
        try await drives.delete(owner: owner, uuids: [uuid])
        return .noContent
    }

    // MARK: Bulk

    /// `PUT /drives/`: bulk update by uuid, all or none (decision 7).
    @Sendable func bulkUpdate(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let objects = try DriveInput.objects(of: try await request.jsonBody(limit: bodyLimit))
        let input = self.input
        let changes = try objects.enumerated().map { index, object in
            try Self.prefixed(index, count: objects.count) { try input.changes(object, uuid: nil) }
        }
        let updated = try await drives.update(owner: owner, bulk: changes)
        return .json(bytes: Self.objectsEnvelope(updated))
    }

    /// `DELETE /drives/` with `{"objects":[{"uuid":..}]}`: all or none (decision 8).
    @Sendable func bulkDelete(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let objects = try DriveInput.objects(of: try await request.jsonBody(limit: bodyLimit))
        let uuids = try objects.map { object in
            guard let uuid = APIPath.relatedID(object, collection: "drives") else {
                throw CloudSigmaError.validation("uuid", "Each object of a bulk delete needs its uuid")
            }
            return uuid
        }
        try await drives.delete(owner: owner, uuids: uuids)
        return .noContent
    }

    // MARK: Actions

    /// `POST /drives/{uuid}/action/?do=resize|clone`.
    @Sendable func action(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let uuid = try context.parameters.require("uuid")
        let query = QueryParameters(request.uri)
        let action: String? = query["do"]
        switch action {
        case "resize":
            _ = try await drives.drive(owner: owner, uuid: uuid)
            guard let body = try await request.jsonBody(limit: bodyLimit) else {
                throw CloudSigmaError.validation(nil, "A resize needs the drive definition with the new size")
            }
            let changes = try input.changes(body, uuid: uuid)
            let drive = try await drives.update(owner: owner, changes: changes, mode: .resizeAction)
            return .json(bytes: Self.objectsEnvelope([drive]), status: .accepted)
        case "clone":
            return try await clone(request, owner: owner, uuid: uuid)
        case "upload_chunk":
            return try await content.chunkLink(request, owner: owner, uuid: uuid)
        case nil:
            throw CloudSigmaError.validation("do", "The action is missing: add ?do=<action>")
        case let other?:
            throw CloudSigmaError.validation("do", "Unknown action \"\(other)\" for drives")
        }
    }

    /// The clone action, for owned and library drives alike: 202 `{"objects":[new drive]}`.
    func clone(_ request: Request, owner: String, uuid: String) async throws -> Response {
        let cloneRequest = try input.cloneRequest(try await request.jsonBody(limit: bodyLimit))
        let drive = try await drives.clone(owner: owner, sourceUUID: uuid, request: cloneRequest, avoid: Self.avoid(request))
        return .json(bytes: Self.objectsEnvelope([drive]), status: .accepted)
    }

    /// `{"objects": [drive, ...]}`, each drive in full.
    static func objectsEnvelope(_ drives: [Drive]) -> [UInt8] {
        var writer = JSONWriter(capacity: 32 + drives.count * 1200)
        writer.objectsEnvelope { $0.drives(drives) }
        return writer.bytes
    }

    /// `?avoid=u1,u2`: drive or server uuids, honoured best effort (never an error).
    static func avoid(_ request: Request) -> [String] {
        QueryParameters(request.uri).all("avoid").flatMap { $0.split(separator: ",").map(String.init) }
    }

    /// Runs `body`, prefixing a validation message with the object's index in a bulk request.
    static func prefixed<T>(_ index: Int, count: Int, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as CloudSigmaError where count > 1 {
            error.message = "objects[\(index)]: " + error.message
            throw error
        }
    }
}
