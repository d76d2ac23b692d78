import DriveModel
import DriveStorage
import Foundation
import Hummingbird

/// `/licenses/`: the catalogue seeded by the first migration (reference §5).
struct LicensesController {
    let licenses: any LicenseRepository

    func register(on group: RouterGroup<DrivesRequestContext>) {
        let schema = Document(StaticDocuments.licenseSchema)
        group.resource("licenses", get: list)
        group.resource("licenses/detail", get: list)
        group.resource("licenses/schema", get: { _, _ in schema.response })
        group.resource("licenses/:id", get: { request, context in
            let raw = try context.parameters.require("id")
            guard let id = Int64(raw), let license = try await licenses.license(id: id) else {
                throw CloudSigmaError(.notexist, "Object with id \(raw) does not exist")
            }
            return .json(license.json.projected(to: QueryParameters(request.uri).fields))
        })
    }

    /// The catalogue, ordered by name; the plain list already has full objects.
    @Sendable func list(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let query = QueryParameters(request.uri)
        let page = try query.page()
        let (total, licenses) = try await licenses.licenses(limit: page.limit, offset: page.offset)
        let fields = query.fields
        return .json(
            ListPage(
                limit: page.echoedLimit, offset: page.offset, totalCount: total,
                objects: licenses.map { $0.json.projected(to: fields) }
            ).json)
    }
}
