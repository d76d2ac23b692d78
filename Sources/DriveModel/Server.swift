/// Server statuses (reference §6.2).
public enum ServerStatus: String, Sendable, CaseIterable {
    case stopped, starting, running, stopping, paused, unavailable

    /// Whether drives on the server count as "mounted on a running server".
    public var isRunning: Bool { self != .stopped && self != .paused }
}

/// One mount point of a server's `drives`.
public struct ServerDrive: Sendable, Equatable {
    public var bootOrder: Int64?
    public var devChannel: String
    public var device: String
    public var driveUUID: String

    public init(bootOrder: Int64?, devChannel: String, device: String, driveUUID: String) {
        self.bootOrder = bootOrder
        self.devChannel = devChannel
        self.device = device
        self.driveUUID = driveUUID
    }
}

/// A server, as much as mounting drives needs (reference §6).
public struct Server: Sendable, Equatable {
    public var uuid: String
    public var owner: String
    public var name: String
    public var cpu: Int64
    public var mem: Int64
    public var vncPassword: String
    public var status: ServerStatus
    public var meta: [String: String]
    /// Other keys the server echoes back (`smp`, `nics`, `cpu_type`, `hypervisor`, ...).
    public var extra: [String: JSONValue]
    public var drives: [ServerDrive]
    public var tags: [String]
    public var activeSince: String?

    public init(
        uuid: String, owner: String, name: String, cpu: Int64, mem: Int64, vncPassword: String, status: ServerStatus,
        meta: [String: String] = [:], extra: [String: JSONValue] = [:], drives: [ServerDrive] = [], tags: [String] = [],
        activeSince: String? = nil
    ) {
        self.uuid = uuid
        self.owner = owner
        self.name = name
        self.cpu = cpu
        self.mem = mem
        self.vncPassword = vncPassword
        self.status = status
        self.meta = meta
        self.extra = extra
        self.drives = drives
        self.tags = tags
        self.activeSince = activeSince
    }

    /// Keys a server has whatever the client sent, with the values the real API defaults to.
    public static let defaultExtra: [String: JSONValue] = [
        "context": .bool(true), "cpu_model": .null, "cpu_type": .string("amd"), "cpus_instead_of_cores": .bool(false),
        "enable_numa": .bool(false), "hv_relaxed": .bool(false), "hv_tsc": .bool(false), "hypervisor": .string("kvm"),
        "nics": .array([]), "pubkeys": .array([]), "requirements": .array([]), "smp": .int(1),
    ]

    public var resourceURI: String { APIPath.uri("servers", uuid) }

    var runtimeJSON: JSONValue {
        guard status == .running, let activeSince else { return .null }
        return .object(["active_since": .string(activeSince), "nics": .array([])])
    }

    public var detailJSON: JSONValue {
        var o = Self.defaultExtra.merging(extra) { _, given in given }
        let running = status == .running
        o["cpu"] = .int(cpu)
        o["mem"] = .int(mem)
        o["drives"] = .array(
            drives.map { mount in
                .object([
                    "boot_order": mount.bootOrder.map(JSONValue.int) ?? .null,
                    "dev_channel": .string(mount.devChannel),
                    "device": .string(mount.device),
                    "drive": APIPath.reference("drives", mount.driveUUID),
                    "runtime": running
                        ? .object([
                            "io": .object([
                                "bytes_read": .int(0), "bytes_written": .int(0), "count_flush": .int(0), "count_read": .int(0),
                                "count_written": .int(0), "total_time_ns_flush": .int(0), "total_time_ns_read": .int(0),
                                "total_time_ns_write": .int(0),
                            ])
                        ]) : .null,
                ])
            })
        o["grantees"] = .array([])
        o["jobs"] = .array([])
        o["meta"] = .object(meta.mapValues(JSONValue.string))
        o["name"] = .string(name)
        o["owner"] = APIPath.reference("user", owner)
        o["permissions"] = .array([])
        o["resource_uri"] = .string(resourceURI)
        o["runtime"] = runtimeJSON
        o["status"] = .string(status.rawValue)
        o["tags"] = .array(tags.map { APIPath.reference("tags", $0) })
        o["uuid"] = .string(uuid)
        o["vnc_password"] = .string(vncPassword)
        return .object(o)
    }

    /// The short list form: `name, owner, resource_uri, runtime, status, uuid`.
    public var shortJSON: JSONValue {
        .object([
            "name": .string(name), "owner": APIPath.reference("user", owner), "resource_uri": .string(resourceURI),
            "runtime": runtimeJSON, "status": .string(status.rawValue), "uuid": .string(uuid),
        ])
    }
}

/// A tag and the resources it holds (reference §7.3).
public struct Tag: Sendable, Equatable {
    public struct Resource: Sendable, Equatable {
        public var type: String
        public var uuid: String
        public var owner: String

        public init(type: String, uuid: String, owner: String) {
            self.type = type
            self.uuid = uuid
            self.owner = owner
        }
    }

    public var uuid: String
    public var owner: String
    public var name: String
    public var meta: [String: String]
    public var resources: [Resource]

    public init(uuid: String, owner: String, name: String, meta: [String: String], resources: [Resource]) {
        self.uuid = uuid
        self.owner = owner
        self.name = name
        self.meta = meta
        self.resources = resources
    }

    public var json: JSONValue {
        .object([
            "meta": .object(meta.mapValues(JSONValue.string)),
            "name": .string(name),
            "owner": APIPath.reference("user", owner),
            "resource_uri": .string(APIPath.uri("tags", uuid)),
            "resources": .array(
                resources.map {
                    .object([
                        "owner": APIPath.reference("user", $0.owner), "res_type": .string($0.type),
                        "resource_uri": .string(APIPath.uri($0.type, $0.uuid)), "uuid": .string($0.uuid),
                    ])
                }),
            "uuid": .string(uuid),
        ])
    }
}
