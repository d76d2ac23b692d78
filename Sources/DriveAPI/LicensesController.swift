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

/// `/capabilities/`: the capabilities template with `drives` and `default_storage_type` from the
/// configured storage catalogue, so that clients see the limits validation enforces.
struct CapabilitiesController {
    let catalogue: StorageCatalogue

    func register(on group: RouterGroup<DrivesRequestContext>) {
        let catalogue = self.catalogue
        var document = (try? JSONParser.parse(StaticDocuments.capabilities))?
            .objectValue ?? [:]
        document["default_storage_type"] = .string(catalogue.defaultType)
        document["drives"] = .object(Dictionary(uniqueKeysWithValues: catalogue.types.map { ($0.name, $0.json) }))
        let rendered = Document(JSONValue.object(document))
        group.resource("capabilities", get: { _, _ in rendered.response })
    }
}

/// A JSON document rendered once and served as is.
struct Document: Sendable {
    let bytes: [UInt8]

    init(_ text: String) {
        let value = (try? JSONParser.parse(text)) ?? .object([:])
        self.init(value)
    }

    init(_ value: JSONValue) {
        bytes = value.jsonBytes
    }

    var response: Response { .json(bytes: bytes) }
}
