/// The limits of one storage type, as `/capabilities/` shows them (reference §3.11).
public struct StorageTypeLimits: Sendable, Equatable {
    public var name: String
    public var minSize: Int64
    public var maxSize: Int64
    public var iopsBase: Int64
    public var iopsMin: Int64
    public var iopsMax: Int64

    public init(name: String, minSize: Int64, maxSize: Int64, iopsBase: Int64, iopsMin: Int64, iopsMax: Int64) {
        self.name = name
        self.minSize = minSize
        self.maxSize = maxSize
        self.iopsBase = iopsBase
        self.iopsMin = iopsMin
        self.iopsMax = iopsMax
    }

    /// The defaults: the `capabilities` dump (`dssd`, `nvme`, `zadara`) plus `local_nvme`
    /// (decision 10).
    public static let defaults: [StorageTypeLimits] = [
        .init(name: "dssd", minSize: 536_870_912, maxSize: 15_492_389_427_364, iopsBase: 30000, iopsMin: 1, iopsMax: 60000),
        .init(name: "nvme", minSize: 536_870_912, maxSize: 12_074_020_121_525, iopsBase: 30000, iopsMin: 1, iopsMax: 60000),
        .init(name: "zadara", minSize: 1_073_741_824, maxSize: 14_180_205_493_621, iopsBase: 4000, iopsMin: 1, iopsMax: 8000),
        .init(name: "local_nvme", minSize: 536_870_912, maxSize: 4_398_046_511_104, iopsBase: 30000, iopsMin: 1, iopsMax: 60000),
    ]

    public var json: JSONValue {
        let size = JSONValue.object(["max": .int(maxSize), "min": .int(minSize)])
        return .object([
            "iops": .object(["base": .int(iopsBase), "max": .int(iopsMax), "min": .int(iopsMin)]),
            "max_size": .int(maxSize),
            "min_size": .int(minSize),
            "size": size,
        ])
    }
}

/// The storage types this daemon offers, and the default one.
public struct StorageCatalogue: Sendable, Equatable {
    public var types: [StorageTypeLimits]
    public var defaultType: String

    public init(types: [StorageTypeLimits] = StorageTypeLimits.defaults, defaultType: String = "dssd") {
        self.types = types
        self.defaultType = defaultType
    }

    public func limits(_ name: String) -> StorageTypeLimits? { types.first { $0.name == name } }

    /// Storage types whose drives live and die with a host (decision 10): not snapshotable, never
    /// cloned.
    public static func isEphemeral(_ storageType: String) -> Bool { storageType == "local_nvme" }

    /// The `storage_type` choices of the drive schema (reference §3.2).
    public static let schemaChoices = ["magnetic", "ssd", "dssd", "zadara", "nvme", "local_nvme"]
}
