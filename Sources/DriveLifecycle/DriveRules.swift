import DriveModel

/// The domain rules of drive sizes and storage types, in one pure place: what the capabilities
/// allow on create, on an update of a stored drive and on a clone, and what ephemeral types
/// refuse. Request parsing only parses; the API and the store both ask here.
public enum DriveRules {
    /// Storage types whose drives live and die with a host (decision 10): never cloned.
    public static func isEphemeral(_ storageType: String) -> Bool { StorageCatalogue.isEphemeral(storageType) }

    static let ephemeralCloneRefusal = CloudSigmaError.permission("Ephemeral (local_nvme) drives cannot be cloned")
    /// `local_nvme`: "Download No" (ephemeral_drives.rst).
    public static let ephemeralDownloadRefusal = CloudSigmaError.permission("Ephemeral (local_nvme) drives cannot be downloaded")
    /// `local_nvme`: "Create Snapshot No" (ephemeral_drives.rst).
    public static let ephemeralSnapshotRefusal = CloudSigmaError.permission("Ephemeral (local_nvme) drives cannot be snapshotted")
    /// `local_nvme`: "Upload No" (ephemeral_drives.rst).
    public static let ephemeralUploadRefusal = CloudSigmaError.permission("Ephemeral (local_nvme) drives cannot be uploaded")

    /// The size of an upload: at least one byte and within the type's maximum. No minimum: the
    /// drive keeps the exact size until its upload completes, then grows to the minimum
    /// (decision 18, U2).
    public static func checkUpload(size: Int64, limits: StorageTypeLimits) throws {
        if size < 1 { throw CloudSigmaError.validation("size", "An upload needs at least one byte") }
        if size > limits.maxSize {
            throw CloudSigmaError.validation(
                "size", "Drive size \(size) is above the maximum of \(limits.maxSize) bytes for storage type \(limits.name)")
        }
    }

    /// The size a completed upload of `size` bytes ends with: grown to the type's minimum.
    public static func completedUploadSize(_ size: Int64, limits: StorageTypeLimits?) -> Int64 {
        max(size, limits?.minSize ?? size)
    }

    /// The limits of `storageType`, or 400 when the catalogue does not offer it.
    public static func limits(_ storageType: String, in catalogue: StorageCatalogue) throws -> StorageTypeLimits {
        guard let limits = catalogue.limits(storageType) else {
            throw CloudSigmaError.validation("storage_type", "Storage type \(storageType) is not offered here")
        }
        return limits
    }

    /// A size within the type's limits (capabilities).
    public static func check(size: Int64, limits: StorageTypeLimits) throws {
        if size < limits.minSize {
            throw CloudSigmaError.validation(
                "size", "Drive size \(size) is below the minimum of \(limits.minSize) bytes for storage type \(limits.name)")
        }
        if size > limits.maxSize {
            throw CloudSigmaError.validation(
                "size", "Drive size \(size) is above the maximum of \(limits.maxSize) bytes for storage type \(limits.name)")
        }
    }

    /// A new drive of `size` bytes and type `storageType`.
    public static func checkCreate(size: Int64, storageType: String, catalogue: StorageCatalogue) throws {
        try check(size: size, limits: try limits(storageType, in: catalogue))
    }

    /// An update of a stored drive: the type stays, the size never shrinks nor passes the type's
    /// maximum.
    public static func checkUpdate(
        current: Drive, size: Int64, storageType: String?, catalogue: StorageCatalogue
    ) throws {
        if let storageType, storageType != current.storageType {
            throw CloudSigmaError.validation("storage_type", "Storage type cannot be changed after creation")
        }
        if size < current.size {
            throw CloudSigmaError.validation(
                "size", "Drive size cannot be reduced: the drive has \(current.size) bytes, \(size) requested")
        }
        if let limits = catalogue.limits(current.storageType), size > limits.maxSize {
            throw CloudSigmaError.validation(
                "size", "Drive size \(size) is above the maximum of \(limits.maxSize) bytes for storage type \(limits.name)")
        }
    }

    /// The size of a clone: the request's, or the source's (at least the type's minimum); never
    /// smaller than the source, always within the type's limits.
    public static func cloneSize(_ requested: Int64?, sourceSize: Int64, limits: StorageTypeLimits) throws -> Int64 {
        let size = requested ?? max(sourceSize, limits.minSize)
        if size < sourceSize {
            throw CloudSigmaError.validation(
                "size", "Size of the cloned drive can only be bigger or the same: the source has \(sourceSize) bytes")
        }
        if size < limits.minSize || size > limits.maxSize {
            throw CloudSigmaError.validation(
                "size", "Drive size \(size) is outside \(limits.minSize)...\(limits.maxSize) bytes for storage type \(limits.name)")
        }
        return size
    }
}
