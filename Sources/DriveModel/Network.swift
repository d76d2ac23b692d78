/// An IP address of an account (`/ips/`): a subscription resource drivesd seeds per account. Its
/// id is the address itself (`/api/2.0/ips/100.64.0.2/`).
public struct IPAddress: Sendable, Equatable {
    public var address: String
    public var owner: String
    public var netmask: Int
    public var gateway: String
    public var nameservers: [String]
    public var meta: [String: String]
    public var subscription: Int64
    /// The server whose NIC holds this address statically, if any.
    public var server: String?
    public var tags: [String]

    public init(
        address: String, owner: String, netmask: Int, gateway: String, nameservers: [String], meta: [String: String],
        subscription: Int64, server: String?, tags: [String]
    ) {
        self.address = address
        self.owner = owner
        self.netmask = netmask
        self.gateway = gateway
        self.nameservers = nameservers
        self.meta = meta
        self.subscription = subscription
        self.server = server
        self.tags = tags
    }

    /// The short form `GET /ips/` answers: owner, resource_uri, server, uuid.
    public var shortJSON: JSONValue {
        .object([
            "owner": APIPath.reference("user", owner),
            "resource_uri": .string(APIPath.uri("ips", address)),
            "server": server.map { APIPath.reference("servers", $0) } ?? .null,
            "uuid": .string(address),
        ])
    }

    public var json: JSONValue {
        .object([
            "gateway": .string(gateway),
            "grantees": .array([]),
            "meta": .object(meta.mapValues(JSONValue.string)),
            "nameservers": .array(nameservers.map(JSONValue.string)),
            "netmask": .int(Int64(netmask)),
            "owner": APIPath.reference("user", owner),
            "permissions": .array([]),
            "resource_uri": .string(APIPath.uri("ips", address)),
            "server": server.map { APIPath.reference("servers", $0) } ?? .null,
            "subscription": NetworkAllocation.subscriptionReference(subscription),
            "tags": .array(tags.map { APIPath.reference("tags", $0) }),
            "uuid": .string(address),
        ])
    }
}

/// A VLAN of an account (`/vlans/`): a subscription resource drivesd seeds per account.
public struct VLAN: Sendable, Equatable {
    public var uuid: String
    public var owner: String
    public var meta: [String: String]
    public var subscription: Int64
    /// The servers with a NIC in this VLAN, in creation order.
    public var servers: [String]
    public var tags: [String]

    public init(uuid: String, owner: String, meta: [String: String], subscription: Int64, servers: [String], tags: [String]) {
        self.uuid = uuid
        self.owner = owner
        self.meta = meta
        self.subscription = subscription
        self.servers = servers
        self.tags = tags
    }

    /// The short form `GET /vlans/` answers: owner, resource_uri, uuid.
    public var shortJSON: JSONValue {
        .object([
            "owner": APIPath.reference("user", owner),
            "resource_uri": .string(APIPath.uri("vlans", uuid)),
            "uuid": .string(uuid),
        ])
    }

    public var json: JSONValue {
        .object([
            "grantees": .array([]),
            "meta": .object(meta.mapValues(JSONValue.string)),
            "owner": APIPath.reference("user", owner),
            "permissions": .array([]),
            "resource_uri": .string(APIPath.uri("vlans", uuid)),
            "servers": .array(servers.map { APIPath.reference("servers", $0) }),
            "subscription": NetworkAllocation.subscriptionReference(subscription),
            "tags": .array(tags.map { APIPath.reference("tags", $0) }),
            "uuid": .string(uuid),
        ])
    }
}

/// Where seeded addresses come from, and the ids of the subscriptions behind them.
public enum NetworkAllocation {
    /// Hosts per /24: `.2` to `.254` (`.1` is the gateway).
    static let hostsPerNetwork: Int64 = 253

    /// The address of the `seq`-th IP ever seeded (from 1): consecutive hosts of consecutive
    /// /24 networks of 100.64.0.0/10, the shared address space of RFC 6598 (never routed on the
    /// internet, unlikely to collide with a test machine's own networks).
    public static func address(seq: Int64) -> (address: String, gateway: String, netmask: Int) {
        let n = max(0, seq - 1)
        let network = n / hostsPerNetwork
        let host = 2 + n % hostsPerNetwork
        let second = 64 + (network / 256) % 64
        let third = network % 256
        return ("100.\(second).\(third).\(host)", "100.\(second).\(third).1", 24)
    }

    /// IPs' subscriptions are odd, VLANs' even: one id space, as the real API's.
    public static func ipSubscription(seq: Int64) -> Int64 { seq * 2 - 1 }
    public static func vlanSubscription(seq: Int64) -> Int64 { seq * 2 }

    static func subscriptionReference(_ id: Int64) -> JSONValue {
        .object(["id": .int(id), "resource_uri": .string(APIPath.uri("subscriptions", String(id)))])
    }
}
