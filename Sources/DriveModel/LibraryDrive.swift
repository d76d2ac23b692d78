/// A drive of the public library (`/libdrives/`, reference §7.2).
public struct LibraryDrive: Sendable, Equatable {
    public var uuid: String
    public var name: String
    public var size: Int64
    public var media: DriveMedia
    public var arch: String?
    public var category: [String]
    public var description: String
    public var distribution: String?
    public var imageType: String
    public var installNotes: String
    public var os: String
    public var paid: Bool
    public var url: String
    public var version: String?
    public var defaultUser: String?
    public var licenses: [DriveLicense]
    /// Servers of the caller on which this (cdrom) drive is attached.
    public var mountedOn: [String] = []

    public init(
        uuid: String, name: String, size: Int64, media: DriveMedia, arch: String?, category: [String], description: String,
        distribution: String?, imageType: String, installNotes: String, os: String, paid: Bool, url: String,
        version: String?, defaultUser: String?, licenses: [DriveLicense]
    ) {
        self.uuid = uuid
        self.name = name
        self.size = size
        self.media = media
        self.arch = arch
        self.category = category
        self.description = description
        self.distribution = distribution
        self.imageType = imageType
        self.installNotes = installNotes
        self.os = os
        self.paid = paid
        self.url = url
        self.version = version
        self.defaultUser = defaultUser
        self.licenses = licenses
    }

    /// The storage type library drives present through the drives API.
    public static let storageType = "dssd"

    /// The `/libdrives/` shape.
    public var libraryJSON: JSONValue {
        .object([
            "affinities": .array([]), "allow_multimount": .bool(false),
            "arch": arch.map(JSONValue.string) ?? .null,
            "category": .array(category.map(JSONValue.string)),
            "description": .string(description),
            "distribution": distribution.map(JSONValue.string) ?? .null,
            "favourite": .bool(false),
            "image_type": .string(imageType),
            "install_notes": .string(installNotes),
            "jobs": .array([]),
            "licenses": .array(licenses.map(\.json)),
            "media": .string(media.rawValue),
            "meta": .object([:]),
            "mounted_on": .array(mountedOn.map { APIPath.reference("servers", $0) }),
            "name": .string(name),
            "os": .string(os),
            "owner": .null,
            "paid": .bool(paid),
            "resource_uri": .string(APIPath.uri("libdrives", uuid)),
            "size": .int(size),
            "status": .string((mountedOn.isEmpty ? DriveStatus.unmounted : .mounted).rawValue),
            "storage_type": .null,
            "tags": .array([]),
            "url": .string(url),
            "uuid": .string(uuid),
            "version": version.map(JSONValue.string) ?? .null,
        ])
    }

    /// The drive shape, as `GET /drives/{libuuid}/` answers: `owner: null`, no library-only keys.
    public var asDrive: Drive {
        Drive(
            uuid: uuid, owner: nil, name: name, size: size, media: media, storageType: Self.storageType,
            status: mountedOn.isEmpty ? .unmounted : .mounted, licenses: licenses, mountedOn: mountedOn)
    }

    /// What a clone copies into the new drive's `meta` (reference §1.10).
    public var cloneMeta: [String: String] {
        var meta: [String: String] = [
            "os": os, "image_type": imageType, "install_notes": installNotes, "url": url, "description": description,
            "category": category.joined(separator: ","), "paid": paid ? "true" : "false", "favorite": "false",
        ]
        if let arch { meta["arch"] = arch }
        if let distribution { meta["distribution"] = distribution }
        if let version { meta["version"] = version }
        if let defaultUser { meta["default_user"] = defaultUser }
        return meta
    }
}
