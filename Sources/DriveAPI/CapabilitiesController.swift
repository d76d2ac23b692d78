import DriveModel
import DriveStorage
import Foundation
import Hummingbird

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
