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
        var document = (try? JSONParser.parse(String(decoding: StaticDocuments.capabilities, as: UTF8.self), keepFloats: true))?
            .objectValue ?? [:]
        document["default_storage_type"] = .string(catalogue.defaultType)
        // Each number with the JSON type the real API gave it (zadara's minimum is the float
        // 1073741824.0 in the capture): a client written against drivesd must not break on the real one.
        let captured = document["drives"]?.objectValue ?? [:]
        document["drives"] = .object(
            Dictionary(uniqueKeysWithValues: catalogue.types.map { ($0.name, Self.typed($0.json, like: captured[$0.name])) }))
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

    /// `value` with each integer turned into a float where `template` has a float at that place.
    static func typed(_ value: JSONValue, like template: JSONValue?) -> JSONValue {
        switch (value, template) {
        case (.object(let object), .object(let shape)?):
            return .object(object.reduce(into: [:]) { out, item in out[item.key] = typed(item.value, like: shape[item.key]) })
        case (.int(let n), .double?):
            return .double(Double(n))
        default:
            return value
        }
    }
}
