import DriveModel
import DriveStorage
import Hummingbird

/// `/jobs/`: background jobs, most recently modified first (reference §4). The plain list already
/// returns full objects; `/jobs/detail/` answers the same.
struct JobsController {
    let jobs: any JobRepository

    func register(on group: RouterGroup<DrivesRequestContext>) {
        let schema = Document(StaticDocuments.jobSchema)
        group.resource("jobs", get: list)
        group.resource("jobs/detail", get: list)
        group.resource("jobs/schema", get: { _, _ in schema.response })
        group.resource("jobs/:uuid", get: { request, context in
            let owner = try context.requireUser().uuid
            let job = try await jobs.job(owner: owner, uuid: try context.parameters.require("uuid"))
            return .json(job.json.projected(to: QueryParameters(request.uri).fields))
        })
    }

    /// Filter `state` (commas mean OR), `limit` (default 20), `offset`, `fields`.
    @Sendable func list(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let query = QueryParameters(request.uri)
        let page = try query.page()
        let states = query.all("state").flatMap(QueryParameters.splitFilter)
        let (total, jobs) = try await jobs.list(owner: owner, states: states, limit: page.limit, offset: page.offset)
        let fields = query.fields
        return .json(
            ListPage(
                limit: page.echoedLimit, offset: page.offset, totalCount: total,
                objects: jobs.map { $0.json.projected(to: fields) }
            ).json)
    }
}
