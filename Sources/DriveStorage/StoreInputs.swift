import DriveModel

/// A license asked for on a drive: `{"amount", "license": <id>}`.
public struct LicenseRequest: Sendable, Equatable {
    public var licenseID: Int64
    public var amount: Int64

    public init(licenseID: Int64, amount: Int64) {
        self.licenseID = licenseID
        self.amount = amount
    }
}

/// A validated drive definition for a create.
public struct DriveSpec: Sendable, Equatable {
    public var name: String
    public var size: Int64
    public var media: DriveMedia
    public var storageType: String
    public var allowMultimount: Bool
    public var affinities: [String]
    public var meta: [String: String]
    public var iops: Int64?
    public var licenses: [LicenseRequest]
    /// Tag uuids (each must be the owner's).
    public var tags: [String]

    public init(
        name: String, size: Int64, media: DriveMedia, storageType: String, allowMultimount: Bool = false,
        affinities: [String] = [], meta: [String: String] = [:], iops: Int64? = nil, licenses: [LicenseRequest] = [],
        tags: [String] = []
    ) {
        self.tags = tags
        self.name = name
        self.size = size
        self.media = media
        self.storageType = storageType
        self.allowMultimount = allowMultimount
        self.affinities = affinities
        self.meta = meta
        self.iops = iops
        self.licenses = licenses
    }
}

/// A validated drive update (PUT or the resize action). `name`, `size` and `media` are required
/// (decision 2); every optional left nil keeps the stored value.
public struct DriveChanges: Sendable, Equatable {
    public var uuid: String
    public var name: String
    public var size: Int64
    public var media: DriveMedia
    public var storageType: String?
    public var allowMultimount: Bool?
    public var affinities: [String]?
    public var meta: [String: String]?
    /// `.some(nil)` clears the limit.
    public var iops: Int64??
    public var licenses: [LicenseRequest]?
    /// Replaces the drive's tags when present.
    public var tags: [String]?

    public init(
        uuid: String, name: String, size: Int64, media: DriveMedia, storageType: String? = nil,
        allowMultimount: Bool? = nil, affinities: [String]? = nil, meta: [String: String]? = nil,
        iops: Int64?? = nil, licenses: [LicenseRequest]? = nil, tags: [String]? = nil
    ) {
        self.tags = tags
        self.uuid = uuid
        self.name = name
        self.size = size
        self.media = media
        self.storageType = storageType
        self.allowMultimount = allowMultimount
        self.affinities = affinities
        self.meta = meta
        self.iops = iops
        self.licenses = licenses
    }
}

/// How an update arrives.
public enum UpdateMode: Sendable {
    /// `PUT`: changes that are not allowed now are silently ignored where the reference says so.
    case edit
    /// `POST .../action/?do=resize`: applies the whole definition or fails loudly.
    case resizeAction
}

/// What a drive list asks for.
public struct DriveQuery: Sendable, Equatable {
    public enum Field: String, Sendable, CaseIterable { case uuid, name }

    /// Exact-match filters: each entry is an OR group; entries AND together.
    public var exact: [(field: Field, values: [String])] = []
    /// Case-insensitive substring filters on `name`: each entry an OR group.
    public var nameContains: [[String]] = []
    /// `tag=<uuid>` filters: each entry an OR group of tag uuids; entries AND together.
    public var tags: [[String]] = []
    /// `tag__name=<name>` filters, likewise.
    public var tagNames: [[String]] = []
    /// Statuses to keep (any of them); empty: every status. The console's filter.
    public var statuses: [String] = []
    public var order: [(field: Field, descending: Bool)] = []
    /// nil: every match (`limit=0`).
    public var limit: Int? = 20
    public var offset: Int = 0

    public init() {}

    /// No filter: the owner's drives, whatever their name, uuid or tags.
    public var isUnfiltered: Bool {
        exact.allSatisfy(\.values.isEmpty) && nameContains.allSatisfy(\.isEmpty) && tags.allSatisfy(\.isEmpty)
            && tagNames.allSatisfy(\.isEmpty) && statuses.isEmpty
    }

    public static func == (a: DriveQuery, b: DriveQuery) -> Bool {
        a.exact.map { "\($0.field)=\($0.values)" } == b.exact.map { "\($0.field)=\($0.values)" }
            && a.nameContains == b.nameContains && a.tags == b.tags && a.tagNames == b.tagNames && a.statuses == b.statuses
            && a.order.map { "\($0.field)\($0.descending)" } == b.order.map { "\($0.field)\($0.descending)" }
            && a.limit == b.limit && a.offset == b.offset
    }
}

/// A validated clone request (`POST .../action/?do=clone`): every field optional (reference §3.9).
public struct CloneRequest: Sendable, Equatable {
    public var name: String?
    public var media: DriveMedia?
    public var affinities: [String]?
    public var size: Int64?
    public var storageType: String?

    public init(
        name: String? = nil, media: DriveMedia? = nil, affinities: [String]? = nil, size: Int64? = nil,
        storageType: String? = nil
    ) {
        self.name = name
        self.media = media
        self.affinities = affinities
        self.size = size
        self.storageType = storageType
    }
}

/// A validated mount point of a server PUT or create: the model's mount point.
public typealias MountRequest = ServerDrive

/// A validated server definition. On update, nil keeps the stored value.
public struct ServerSpec: Sendable, Equatable {
    public var name: String
    public var cpu: Int64
    public var mem: Int64
    public var vncPassword: String
    public var meta: [String: String]?
    public var extra: [String: JSONValue]
    public var drives: [MountRequest]?
    public var tags: [String]?

    public init(
        name: String, cpu: Int64, mem: Int64, vncPassword: String, meta: [String: String]? = nil,
        extra: [String: JSONValue] = [:], drives: [MountRequest]? = nil, tags: [String]? = nil
    ) {
        self.name = name
        self.cpu = cpu
        self.mem = mem
        self.vncPassword = vncPassword
        self.meta = meta
        self.extra = extra
        self.drives = drives
        self.tags = tags
    }
}

/// Which attached drives a server delete takes with it (`?recurse=`).
public enum ServerDeleteRecurse: String, Sendable {
    case none
    case allDrives = "all_drives"
    case disks
    case cdroms
}

/// A validated tag definition; `resources` nil keeps the stored ones on update.
public struct TagSpec: Sendable, Equatable {
    public var name: String
    public var meta: [String: String]?
    public var resources: [String]?

    public init(name: String, meta: [String: String]? = nil, resources: [String]? = nil) {
        self.name = name
        self.meta = meta
        self.resources = resources
    }
}


/// A snapshot to take (`POST /snapshots/`).
public struct SnapshotSpec: Sendable, Equatable {
    /// The drive's uuid.
    public var drive: String
    /// Nil: `<drive uuid>__<date>__<time>`.
    public var name: String?
    public var meta: [String: String]
    public var tags: [String]

    public init(drive: String, name: String? = nil, meta: [String: String] = [:], tags: [String] = []) {
        self.drive = drive
        self.name = name
        self.meta = meta
        self.tags = tags
    }
}

/// A snapshot PUT (S6): absent keys keep their values; `drive`, when given, must name the same
/// drive.
public struct SnapshotChanges: Sendable, Equatable {
    public var uuid: String
    public var drive: String?
    public var name: String?
    public var meta: [String: String]?
    public var tags: [String]?

    public init(uuid: String, drive: String? = nil, name: String? = nil, meta: [String: String]? = nil, tags: [String]? = nil) {
        self.uuid = uuid
        self.drive = drive
        self.name = name
        self.meta = meta
        self.tags = tags
    }
}

/// Filters and order of a snapshot list: the drive filters (`name`, `name__contains`, `uuid`,
/// `tag`, `tag__name`), `drive=`, and `order_by` on `name`, `timestamp`, `uuid`.
public struct SnapshotQuery: Sendable {
    public enum Field: String, Sendable, CaseIterable { case name, timestamp, uuid }

    public var filters = DriveQuery()
    /// `drive=<uuid>` groups (values OR, groups AND).
    public var drives: [[String]] = []
    /// Empty: newest first (S11).
    public var order: [(field: Field, descending: Bool)] = []

    public init() {}
}

/// The snapshot limits of `/capabilities/` (§1.4).
public struct SnapshotLimits: Sendable, Equatable {
    public var max: Int
    public var maxPerDrive: Int

    public init(max: Int = 700, maxPerDrive: Int = 90) {
        self.max = max
        self.maxPerDrive = maxPerDrive
    }
}
