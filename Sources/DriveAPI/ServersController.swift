import DriveLifecycle
import DriveModel
import DriveStorage
import HTTPTypes
import Hummingbird

/// `/servers/`: servers as mount targets (reference §6).
struct ServersController {
    let servers: any ServerRepository
    let settings: APISettings

    var input: ServerInput { ServerInput(drives: DriveInput(catalogue: settings.catalogue)) }
    var bodyLimit: Int { settings.bodyLimit }

    func register(on group: RouterGroup<DrivesRequestContext>) {
        group.resource("servers", get: list(detail: false), post: create)
        group.resource("servers/detail", get: list(detail: true))
        let schema = Document(StaticDocuments.serverSchema)
        group.resource("servers/schema", get: { _, _ in schema.response })
        group.resource("servers/:uuid", get: get, put: update, delete: delete)
        group.resource("servers/:uuid/action", post: action)
    }

    func list(detail: Bool) -> Handler {
        { request, context in
            let owner = try context.requireUser().uuid
            let query = QueryParameters(request.uri)
            let (listQuery, echoedLimit) = try query.driveQuery()
            let (total, servers) = try await servers.list(owner: owner, query: listQuery)
            let fields = query.fields
            return .json(
                ListPage(
                    limit: echoedLimit, offset: listQuery.offset, totalCount: total,
                    objects: servers.map { (detail || fields != nil ? $0.detailJSON : $0.shortJSON).projected(to: fields) }
                ).json)
        }
    }

    @Sendable func get(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let server = try await servers.server(owner: try context.requireUser().uuid, uuid: try context.parameters.require("uuid"))
        return .json(server.detailJSON.projected(to: QueryParameters(request.uri).fields))
    }

    @Sendable func create(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let objects = try DriveInput.objects(of: try await request.jsonBody(limit: bodyLimit))
        guard !objects.isEmpty else { throw CloudSigmaError.validation("objects", "No server to create") }
        let specs = try objects.enumerated().map { index, object in
            try DrivesController.prefixed(index, count: objects.count) { try input.spec(object) }
        }
        let servers = try await servers.create(owner: owner, specs: specs)
        var headers = HTTPFields()
        headers[.location] = servers.first?.resourceURI
        return .json(objectsEnvelope(servers.map(\.detailJSON)), status: .created, headers: headers)
    }

    @Sendable func update(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let uuid = try context.parameters.require("uuid")
        guard let body = try await request.jsonBody(limit: bodyLimit) else {
            throw CloudSigmaError.validation(nil, "The request body is empty")
        }
        _ = try await servers.server(owner: owner, uuid: uuid)
        let server = try await servers.update(owner: owner, uuid: uuid, spec: try input.spec(body))
        return .json(server.detailJSON)
    }

    /// `DELETE /servers/{uuid}/[?recurse=all_drives|disks|cdroms]`.
    @Sendable func delete(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let raw = QueryParameters(request.uri)["recurse"]
        guard let recurse = raw.map({ $0 == "none" ? nil : ServerDeleteRecurse(rawValue: $0) }) ?? ServerDeleteRecurse.none else {
            throw CloudSigmaError.validation("recurse", "recurse must be one of: all_drives, disks, cdroms")
        }
        try await servers.delete(owner: owner, uuid: try context.parameters.require("uuid"), recurse: recurse)
        return .noContent
    }

    /// `?do=start` / `?do=stop`: 202 `{"action","result","uuid"}`; the body may be empty or `{}`.
    @Sendable func action(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let uuid = try context.parameters.require("uuid")
        let action: String? = QueryParameters(request.uri)["do"]
        let operation: ServerAction
        switch action {
        case "start": operation = .start
        case "stop", "shutdown": operation = .stop
        case nil: throw CloudSigmaError.validation("do", "The action is missing: add ?do=<action>")
        case let other?: throw CloudSigmaError.validation("do", "Unknown action \"\(other)\" for servers")
        }
        _ = try await request.jsonBody(limit: bodyLimit)
        try await servers.act(owner: owner, uuid: uuid, operation: operation)
        return .json(
            .object(["action": .string(action ?? ""), "result": .string("success"), "uuid": .string(uuid)]), status: .accepted)
    }
}
