/// A software license from the catalogue (`/licenses/`), identified by an integer id.
public struct License: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var longName: String
    public var type: String
    public var userMetric: String
    public var burstable: Bool

    public init(id: Int64, name: String, longName: String, type: String, userMetric: String, burstable: Bool) {
        self.id = id
        self.name = name
        self.longName = longName
        self.type = type
        self.userMetric = userMetric
        self.burstable = burstable
    }

    public var resourceURI: String { APIPath.uri("licenses", String(id)) }

    public var json: JSONValue {
        .object([
            "burstable": .bool(burstable),
            "long_name": .string(longName),
            "name": .string(name),
            "resource_uri": .string(resourceURI),
            "type": .string(type),
            "user_metric": .string(userMetric),
        ])
    }
}

/// A license attached to a drive: `{"amount", "license": {...}, "user": null}`.
public struct DriveLicense: Sendable, Equatable {
    public var amount: Int64
    public var license: License

    public init(amount: Int64, license: License) {
        self.amount = amount
        self.license = license
    }

    public var json: JSONValue {
        .object(["amount": .int(amount), "license": license.json, "user": .null])
    }
}
