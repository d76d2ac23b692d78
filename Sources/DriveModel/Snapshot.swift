import Foundation

/// A snapshot's status (decision 16): `creating` until the worker completes it, then `available`.
public enum SnapshotStatus: String, Sendable, CaseIterable, Codable {
    case creating
    case available
}

public enum SnapshotNaming {
    /// `<drive uuid>__<YYYY-MM-DD>__<HH_MM_SS>` in UTC, the real API's default name (§1.3).
    public static func defaultName(drive: String, at date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'__'HH_mm_ss"
        return "\(drive)__\(formatter.string(from: date))"
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00:00`, with the space of every snapshot dump (S12).
    public static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let micros = Int((date.timeIntervalSince1970 * 1_000_000).rounded()) % 1_000_000
        let fraction = String(micros)
        return formatter.string(from: date) + "." + String(repeating: "0", count: 6 - fraction.count) + fraction + "+00:00"
    }
}

/// A snapshot as the API shows it (§1.3: twelve keys).
public struct Snapshot: Sendable, Equatable {
    public var uuid: String
    public var owner: String
    /// The drive's uuid.
    public var drive: String
    public var name: String
    public var meta: [String: String]
    public var status: SnapshotStatus
    /// `YYYY-MM-DD HH:MM:SS.ffffff+00:00`.
    public var timestamp: String
    public var tags: [String]
    /// The drive's size when the snapshot was taken (what a clone gets).
    public var size: Int64

    public init(
        uuid: String, owner: String, drive: String, name: String, meta: [String: String], status: SnapshotStatus,
        timestamp: String, tags: [String] = [], size: Int64
    ) {
        self.uuid = uuid
        self.owner = owner
        self.drive = drive
        self.name = name
        self.meta = meta
        self.status = status
        self.timestamp = timestamp
        self.tags = tags
        self.size = size
    }

    public var resourceURI: String { APIPath.uri("snapshots", uuid) }

    /// `null` while `creating`, then the bytes only this snapshot still references: 0, since a
    /// drive's bytes never change after a snapshot (S10).
    public var allocatedSize: Int64? { status == .creating ? nil : 0 }

    public var json: JSONValue {
        .object([
            "allocated_size": allocatedSize.map(JSONValue.int) ?? .null,
            "drive": APIPath.reference("drives", drive),
            "grantees": .array([]),
            "meta": .object(meta.mapValues(JSONValue.string)),
            "name": .string(name),
            "owner": APIPath.reference("user", owner),
            "permissions": .array([]),
            "resource_uri": .string(resourceURI),
            "status": .string(status.rawValue),
            "tags": .array(tags.map { APIPath.reference("tags", $0) }),
            "timestamp": .string(timestamp),
            "uuid": .string(uuid),
        ])
    }
}
