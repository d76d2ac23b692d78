import DriveModel
import DriveStorage
import Hummingbird

/// `/ips/` and `/vlans/`: the subscription resources drivesd seeds per account (reference §7.3
/// names them as tag targets; servers' NICs point at them). Lists, details, their schemas, and
/// PUT of `meta` and `tags`, as the real API's schemas allow (`get` on lists, `get`/`put` on
/// objects).
struct NetworkController {
    let networks: any NetworkRepository
    let settings: APISettings

    var input: DriveInput { DriveInput(catalogue: settings.catalogue) }

    func register(on group: RouterGroup<DrivesRequestContext>) {
        for (kind, schema) in [(NetworkKind.ips, StaticDocuments.ipSchema), (.vlans, StaticDocuments.vlanSchema)] {
            let document = Document(schema)
            let name = kind.rawValue
            group.resource(RouterPath(stringLiteral: name), get: list(kind, detail: false))
            group.resource(RouterPath(stringLiteral: "\(name)/detail"), get: list(kind, detail: true))
            group.resource(RouterPath(stringLiteral: "\(name)/schema"), get: { _, _ in document.response })
            group.resource(RouterPath(stringLiteral: "\(name)/:id"), get: get(kind), put: update(kind))
        }
    }

    /// The plain list answers the short form (`fields=` picks from the full one), `/detail/` the
    /// full objects.
    func list(_ kind: NetworkKind, detail: Bool) -> Handler {
        { request, context in
            let owner = try context.requireUser().uuid
            let query = QueryParameters(request.uri)
            let page = try query.page()
            let filters = NetworkQuery(
                uuids: query.all("uuid").map(QueryParameters.splitFilter),
                tags: query.all("tag").map(QueryParameters.splitFilter),
                names: query.all("name").map(QueryParameters.splitFilter),
                nameContains: (query.all("name__contains") + query.all("name__icontains")).map(QueryParameters.splitFilter),
                limit: page.limit, offset: page.offset)
            let (total, resources) = try await networks.list(kind, owner: owner, query: filters)
            let fields = query.fields
            return .json(
                ListPage(
                    limit: page.echoedLimit, offset: page.offset, totalCount: total,
                    objects: resources.map { (detail || fields != nil ? $0.json : $0.shortJSON).projected(to: fields) }
                ).json)
        }
    }

    func get(_ kind: NetworkKind) -> Handler {
        { request, context in
            let resource = try await networks.resource(
                kind, owner: try context.requireUser().uuid, id: try context.parameters.require("id"))
            return .json(resource.json.projected(to: QueryParameters(request.uri).fields))
        }
    }

    /// PUT: `meta` and `tags` replace when present; the read-only fields a client echoes back
    /// (`update(get())`) are ignored.
    func update(_ kind: NetworkKind) -> Handler {
        { request, context in
            let owner = try context.requireUser().uuid
            let id = try context.parameters.require("id")
            guard let body = try await request.jsonBody(limit: settings.bodyLimit) else {
                throw CloudSigmaError.validation(nil, "The request body is empty")
            }
            guard case .object(let o) = body else {
                throw CloudSigmaError.validation(nil, "Expected an object, got \(body.typeName)")
            }
            let resource = try await networks.update(
                kind, owner: owner, id: id, meta: try input.optional(o, "meta", input.meta),
                tags: try input.optional(o, "tags", input.tags))
            return .json(resource.json)
        }
    }
}
