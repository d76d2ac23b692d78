import DriveModel
import DriveStorage
import Foundation
import Hummingbird

/// `/capabilities/`: the capabilities template with `drives` and `default_storage_type` from the
/// configured storage catalogue, so that clients see the limits validation enforces.
struct CapabilitiesController {
    let catalogue: StorageCatalogue
    let snapshots: any SnapshotRepository

    func register(on group: RouterGroup<DrivesRequestContext>) {
        let catalogue = self.catalogue
        var document = (try? JSONParser.parse(StaticDocuments.capabilities))?
            .objectValue ?? [:]
        document["default_storage_type"] = .string(catalogue.defaultType)
        document["drives"] = .object(Dictionary(uniqueKeysWithValues: catalogue.types.map { ($0.name, $0.json) }))
        let template = document
        let snapshots = self.snapshots
        let schema = Document(StaticDocuments.capabilitiesSchema)
        group.resource("capabilities/schema", get: { _, _ in schema.response })
        group.resource("capabilities", get: { _, context in
            // `snapshots.current` counts the caller's snapshots (§1.4); the limits are enforced.
            var answer = template
            let limits = SnapshotsController.limits
            answer["snapshots"] = .object([
                "current": .int(Int64(try await snapshots.count(owner: try context.requireUser().uuid))),
                "max": .int(Int64(limits.max)), "max_per_drive": .int(Int64(limits.maxPerDrive)),
            ])
            return .json(.object(answer))
        })
    }
}
