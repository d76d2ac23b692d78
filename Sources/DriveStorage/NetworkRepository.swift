import DriveModel

/// The two kinds of network resource an account holds.
public enum NetworkKind: String, Sendable, CaseIterable {
    case ips
    case vlans
}

/// An IP address or a VLAN, as one list answers them.
public enum NetworkResource: Sendable, Equatable {
    case ip(IPAddress)
    case vlan(VLAN)

    public var shortJSON: JSONValue {
        switch self {
        case .ip(let ip): ip.shortJSON
        case .vlan(let vlan): vlan.shortJSON
        }
    }

    public var json: JSONValue {
        switch self {
        case .ip(let ip): ip.json
        case .vlan(let vlan): vlan.json
        }
    }
}

/// Which network resources a list answers: `uuid`, `tag`, `name` and `name__contains` filters
/// (the name is `meta.name`; OR inside a group, AND between groups), a page.
public struct NetworkQuery: Sendable {
    public var uuids: [[String]] = []
    public var tags: [[String]] = []
    public var names: [[String]] = []
    public var nameContains: [[String]] = []
    public var limit: Int?
    public var offset = 0

    public init(
        uuids: [[String]] = [], tags: [[String]] = [], names: [[String]] = [], nameContains: [[String]] = [], limit: Int? = nil,
        offset: Int = 0
    ) {
        self.uuids = uuids
        self.tags = tags
        self.names = names
        self.nameContains = nameContains
        self.limit = limit
        self.offset = offset
    }
}

/// IPs and VLANs (`/ips/`, `/vlans/`): seeded per account, read, and edited (`meta`, `tags`).
public protocol NetworkRepository: Sendable {
    func list(_ kind: NetworkKind, owner: String, query: NetworkQuery) async throws -> (total: Int, resources: [NetworkResource])
    /// One of the owner's resources, or `404`.
    func resource(_ kind: NetworkKind, owner: String, id: String) async throws -> NetworkResource
    /// PUT: `meta` replaces when given; `tags` replaces the tags holding the resource when given.
    func update(_ kind: NetworkKind, owner: String, id: String, meta: [String: String]?, tags: [String]?) async throws
        -> NetworkResource
    /// Records how many of each an account holds and tops every account up to it (accounts never
    /// lose resources when the numbers go down).
    func allot(ips: Int, vlans: Int) async throws
}
