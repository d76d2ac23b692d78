import DriveModel
import DriveStorage
import Hummingbird

/// `/libdrives/`: the library catalogue, read-only but for the clone action (reference §7.2).
struct LibDrivesController {
    let library: any LibraryRepository
    let drives: DrivesController

    func register(on group: RouterGroup<DrivesRequestContext>) {
        let schema = Document(StaticDocuments.libdriveSchema)
        group.resource("libdrives", get: list)
        group.resource("libdrives/detail", get: list)
        group.resource("libdrives/schema", get: { _, _ in schema.response })
        group.resource("libdrives/:uuid", get: { request, context in
            let drive = try await library.drive(owner: try context.requireUser().uuid, uuid: try context.parameters.require("uuid"))
            return .json(drive.libraryJSON.projected(to: QueryParameters(request.uri).fields))
        })
        group.resource("libdrives/:uuid/action", post: { request, context in
            let owner = try context.requireUser().uuid
            let uuid = try context.parameters.require("uuid")
            _ = try await library.drive(owner: owner, uuid: uuid)
            let action: String? = QueryParameters(request.uri)["do"]
            guard action == "clone" else {
                throw CloudSigmaError.validation(
                    "do", action == nil ? "The action is missing: add ?do=clone" : "Unknown action \"\(action!)\" for library drives")
            }
            return try await drives.clone(request, owner: owner, uuid: uuid)
        })
    }

    /// Filters `arch`, `category`, `distribution`, `image_type`, `name`, `name__icontains`, `os`,
    /// `uuid`, `version`; commas mean OR.
    @Sendable func list(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let query = QueryParameters(request.uri)
        let page = try query.page()
        let exact = LibraryFilters.exact.flatMap { key in query.all(key).map { (key, QueryParameters.splitFilter($0)) } }
        let contains = (query.all("name__icontains") + query.all("name__contains")).map(QueryParameters.splitFilter)
        let (total, drives) = try await library.list(
            owner: owner, exact: exact, nameContains: contains, categories: query.all("category").map(QueryParameters.splitFilter),
            limit: page.limit, offset: page.offset)
        let fields = query.fields
        return .json(
            ListPage(limit: page.echoedLimit, offset: page.offset, totalCount: total, objects: drives.map { $0.libraryJSON.projected(to: fields) }).json)
    }
}
