import Foundation

/// A drive as the API presents it (reference §3.3).
public struct Drive: Sendable, Equatable {
    public var uuid: String
    /// The owning user's uuid; nil for library drives.
    public var owner: String?
    public var name: String
    public var size: Int64
    public var media: DriveMedia
    public var storageType: String
    public var status: DriveStatus
    public var allowMultimount: Bool
    public var affinities: [String]
    public var meta: [String: String]
    public var iops: Int64?
    public var licenses: [DriveLicense]
    public var jobs: [String]
    public var mountedOn: [String]
    public var tags: [String]
    public var snapshots: [String]

    public init(
        uuid: String, owner: String?, name: String, size: Int64, media: DriveMedia, storageType: String,
        status: DriveStatus, allowMultimount: Bool = false, affinities: [String] = [], meta: [String: String] = [:],
        iops: Int64? = nil, licenses: [DriveLicense] = [], jobs: [String] = [], mountedOn: [String] = [],
        tags: [String] = [], snapshots: [String] = []
    ) {
        self.uuid = uuid
        self.owner = owner
        self.name = name
        self.size = size
        self.media = media
        self.storageType = storageType
        self.status = status
        self.allowMultimount = allowMultimount
        self.affinities = affinities
        self.meta = meta
        self.iops = iops
        self.licenses = licenses
        self.jobs = jobs
        self.mountedOn = mountedOn
        self.tags = tags
        self.snapshots = snapshots
    }

    public var resourceURI: String { APIPath.uri("drives", uuid) }


    var isEphemeral: Bool { StorageCatalogue.isEphemeral(storageType) }

    /// `runtime.is_snapshotable`: false for ephemeral types, true for the others, in every
    /// status. The older captures show null while a drive is `creating` or `cloning_dst`; the
    /// newest (`drive_storage_type`, `drive_clone`) show the boolean then too.
    var isSnapshotable: Bool? {
        !isEphemeral
    }

    /// The full definition, every key of reference §3.3, as a value (for `?fields=` projections):
    /// the one renderer's text (``writeDetail(into:)``) read back.
    public var detailJSON: JSONValue {
        // The renderer writes well-formed JSON by construction (a test holds it to the parser).
        (try? JSONParser.parse(detailJSONBytes)) ?? .null
    }

    /// The short list form of `GET /drives/`: `owner, resource_uri, status, uuid` only.
    public var shortJSON: JSONValue {
        var w = JSONWriter(capacity: 256)
        writeShort(into: &w)
        return (try? JSONParser.parse(w.bytes)) ?? .null
    }
}

/// The list envelope `{"meta":{"limit","offset","total_count"},"objects":[...]}`.
public struct ListPage: Sendable {
    public var limit: Int
    public var offset: Int
    public var totalCount: Int
    public var objects: [JSONValue]

    public init(limit: Int, offset: Int, totalCount: Int, objects: [JSONValue]) {
        self.limit = limit
        self.offset = offset
        self.totalCount = totalCount
        self.objects = objects
    }

    public var json: JSONValue {
        .object([
            "meta": .object([
                "limit": .int(Int64(limit)), "offset": .int(Int64(offset)), "total_count": .int(Int64(totalCount)),
            ]),
            "objects": .array(objects),
        ])
    }
}

/// `{"objects":[...]}`, the answer of creates and actions.
public func objectsEnvelope(_ objects: [JSONValue]) -> JSONValue {
    .object(["objects": .array(objects)])
}

extension JSONValue {
    /// Keeps only the given keys of an object (`?fields=a,b`); other values are returned unchanged.
    public func projected(to fields: [String]?) -> JSONValue {
        guard let fields, case .object(let o) = self else { return self }
        var out: [String: JSONValue] = [:]
        for f in fields { if let v = o[f] { out[f] = v } }
        return .object(out)
    }
}
