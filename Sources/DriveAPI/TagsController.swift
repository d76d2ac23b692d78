import DriveModel
import DriveStorage
import HTTPTypes
import Hummingbird

/// `/tags/` (reference §7.3): a tag's `resources` and a resource's `tags` are one relation.
struct TagsController {
    let tags: any TagRepository
    let drives: any DriveRepository
    let servers: any ServerRepository
    let networks: any NetworkRepository
    let settings: APISettings

    var input: DriveInput { DriveInput(catalogue: settings.catalogue) }

    func register(on group: RouterGroup<DrivesRequestContext>) {
        let schema = Document(StaticDocuments.tagSchema)
        group.resource("tags", get: list, post: create)
        group.resource("tags/detail", get: list)
        group.resource("tags/schema", get: { _, _ in schema.response })
        group.resource("tags/:uuid", get: get, put: update, delete: delete)
        for type in ["drives", "servers", "ips", "vlans"] {
            group.resource(RouterPath(stringLiteral: "tags/:uuid/\(type)"), get: resources(type: type, detail: false))
            group.resource(RouterPath(stringLiteral: "tags/:uuid/\(type)/detail"), get: resources(type: type, detail: true))
        }
    }

    func spec(_ value: JSONValue, requireName: Bool = true) throws -> TagSpec {
        guard case .object(let o) = value else {
            throw CloudSigmaError.validation(nil, "Expected a tag object, got \(value.typeName)")
        }
        return TagSpec(
            name: try input.required(o, "name", input.string),
            meta: try input.optional(o, "meta", input.meta),
            resources: try input.optional(o, "resources") { value, key in
                // uuids of any type, URIs of any collection, or full resource objects.
                guard case .array(let items) = value else {
                    throw CloudSigmaError.validation(key, "resources must be a list, got \(value.typeName)")
                }
                return try items.map { item in
                    let collection: String
                    if case .string(let s) = item, let named = Self.taggable.first(where: { s.contains("/\($0)/") }) {
                        collection = named
                    } else if case .string(let t)? = item["res_type"] {
                        collection = t
                    } else { collection = "drives" }
                    guard let id = APIPath.relatedID(item, collection: collection) else {
                        throw CloudSigmaError.validation(key, "Not a resource reference: \(item.jsonString.prefix(100))")
                    }
                    return id
                }
            })
    }

    /// The collections a tag's `resources` may hold.
    static let taggable = ["drives", "servers", "snapshots", "ips", "vlans"]

    @Sendable func list(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let query = QueryParameters(request.uri)
        let page = try query.page()
        let (total, tags) = try await tags.list(
            owner: owner, names: query.all("name").map(QueryParameters.splitFilter), limit: page.limit, offset: page.offset)
        let fields = query.fields
        return .json(
            ListPage(limit: page.echoedLimit, offset: page.offset, totalCount: total, objects: tags.map { $0.json.projected(to: fields) }).json)
    }

    @Sendable func get(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let tag = try await tags.tag(owner: try context.requireUser().uuid, uuid: try context.parameters.require("uuid"))
        return .json(tag.json.projected(to: QueryParameters(request.uri).fields))
    }

    @Sendable func create(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let body = try await request.jsonBody(limit: settings.bodyLimit)
        var objects = try DriveInput.objects(of: body)
        guard !objects.isEmpty else { throw CloudSigmaError.validation("objects", "No tag to create") }
        // libcloud's ex_create_tag sends `resources` beside `objects`: it applies to each tag
        // that names none of its own.
        if let shared = body?["objects"] != nil ? body?["resources"] : nil {
            objects = objects.map { object in
                guard case .object(var o) = object, o["resources"] == nil else { return object }
                o["resources"] = shared
                return .object(o)
            }
        }
        let tags = try await tags.create(owner: owner, specs: try objects.map { try spec($0) })
        var headers = HTTPFields()
        headers[.location] = tags.first.map { APIPath.uri("tags", $0.uuid) }
        return .json(objectsEnvelope(tags.map(\.json)), status: .created, headers: headers)
    }

    @Sendable func update(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let uuid = try context.parameters.require("uuid")
        guard let body = try await request.jsonBody(limit: settings.bodyLimit) else {
            throw CloudSigmaError.validation(nil, "The request body is empty")
        }
        _ = try await tags.tag(owner: owner, uuid: uuid)
        return .json(try await tags.update(owner: owner, uuid: uuid, spec: try spec(body)).json)
    }

    @Sendable func delete(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        try await tags.delete(owner: try context.requireUser().uuid, uuid: try context.parameters.require("uuid"))
        return .noContent
    }

    /// `GET /tags/{uuid}/drives/` (short drive shape) and `/detail/` (full), likewise servers,
    /// IPs and VLANs.
    func resources(type: String, detail: Bool) -> Handler {
        { request, context in
            let owner = try context.requireUser().uuid
            let uuids = try await tags.resourceUUIDs(owner: owner, uuid: try context.parameters.require("uuid"), type: type)
            let query = QueryParameters(request.uri)
            var (listQuery, echoedLimit) = try query.driveQuery()
            listQuery.exact.append((.uuid, uuids))
            let fields = query.fields
            let total: Int
            let objects: [JSONValue]
            if uuids.isEmpty {
                (total, objects) = (0, [])
            } else if let kind = NetworkKind(rawValue: type) {
                let (n, found) = try await networks.list(
                    kind, owner: owner,
                    query: NetworkQuery(
                        uuids: listQuery.exact.filter { $0.field == .uuid }.map(\.values), limit: listQuery.limit, offset: listQuery.offset))
                (total, objects) = (n, found.map { (detail || fields != nil ? $0.json : $0.shortJSON).projected(to: fields) })
            } else if type == "drives" {
                let (n, found) = try await drives.list(owner: owner, query: listQuery)
                (total, objects) = (n, found.map { (detail || fields != nil ? $0.detailJSON : $0.shortJSON).projected(to: fields) })
            } else {
                let (n, listed) = try await servers.list(owner: owner, query: listQuery)
                (total, objects) = (n, listed.map { (detail || fields != nil ? $0.detailJSON : $0.shortJSON).projected(to: fields) })
            }
            return .json(ListPage(limit: echoedLimit, offset: listQuery.offset, totalCount: total, objects: objects).json)
        }
    }
}
