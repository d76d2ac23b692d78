import Foundation

/// Where the state lives: what `--database` and `database.path` name. A file path selects
/// SQLite (the default); a `postgres://` or `postgresql://` URL selects PostgreSQL.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresAddress)

    /// Reads `text`: a URL with the scheme `postgres` or `postgresql` is a PostgreSQL address,
    /// anything else a SQLite file path.
    public init(parsing text: String) throws(DatabaseLocationError) {
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            self = .postgres(try PostgresAddress(url: text))
        } else if lowered.contains("://") {
            let scheme = String(text.prefix { $0 != ":" })
            throw DatabaseLocationError("unsupported database URL scheme \(scheme): use a SQLite file path or a postgres:// URL")
        } else if text.isEmpty {
            throw DatabaseLocationError("the database path is empty")
        } else {
            self = .sqlite(path: text)
        }
    }

    /// The path, or the URL without its password: safe to print and log.
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let address): address.description
        }
    }

    /// The engine's name, for messages.
    public var engine: String {
        switch self {
        case .sqlite: "SQLite"
        case .postgres: "PostgreSQL"
        }
    }
}

/// Why a database location cannot be used.
public struct DatabaseLocationError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A PostgreSQL server and database, from a URL in libpq's form:
/// `postgres://user:password@host:port/name`, where `?host=/run/postgresql` (a directory)
/// connects through the Unix socket `/run/postgresql/.s.PGSQL.<port>` instead of TCP.
public struct PostgresAddress: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String?
    /// The TCP host; nil when `socketDirectory` is set.
    public var host: String?
    public var port: Int
    /// The directory of the server's Unix socket (`?host=/dir`), or nil for TCP.
    public var socketDirectory: String?
    public var database: String
    /// The URL's `application_name` (default `drivesd`).
    public var applicationName: String

    public init(
        user: String, password: String? = nil, host: String? = "127.0.0.1", port: Int = 5432,
        socketDirectory: String? = nil, database: String, applicationName: String = "drivesd"
    ) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.socketDirectory = socketDirectory
        self.database = database
        self.applicationName = applicationName
    }

    /// The path of the Unix socket, where the address names one.
    public var socketPath: String? {
        socketDirectory.map { "\($0.hasSuffix("/") ? String($0.dropLast()) : $0)/.s.PGSQL.\(port)" }
    }

    public init(url text: String) throws(DatabaseLocationError) {
        guard let components = URLComponents(string: text) else {
            throw DatabaseLocationError("not a valid PostgreSQL URL (postgres://user:password@host:port/name)")
        }
        let scheme = components.scheme?.lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw DatabaseLocationError("a PostgreSQL URL starts with postgres:// or postgresql://")
        }
        var socketDirectory: String?
        var applicationName = "drivesd"
        for item in components.queryItems ?? [] {
            switch item.name {
            case "host":
                guard let value = item.value, value.hasPrefix("/") else {
                    throw DatabaseLocationError("the URL's host= parameter must be the absolute directory of the server's Unix socket")
                }
                socketDirectory = value
            case "application_name":
                applicationName = item.value ?? applicationName
            case "sslmode":
                guard item.value == "disable" || item.value == "prefer" || item.value == "allow" else {
                    throw DatabaseLocationError("sslmode=\(item.value ?? "") is not supported: drivesd connects to PostgreSQL without TLS (use a Unix socket or a private network)")
                }
            default:
                throw DatabaseLocationError("unknown URL parameter \(item.name) (known: host, application_name, sslmode)")
            }
        }
        let host = components.percentEncodedHost.flatMap { $0.removingPercentEncoding }.flatMap { $0.isEmpty ? nil : $0 }
        guard host != nil || socketDirectory != nil else {
            throw DatabaseLocationError("the PostgreSQL URL names no host (postgres://user@host/name, or ?host=/run/postgresql for a Unix socket)")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw DatabaseLocationError("the port must be 1–65535") }
        let name = String(components.percentEncodedPath.drop { $0 == "/" }).removingPercentEncoding ?? ""
        guard !name.isEmpty, !name.contains("/") else {
            throw DatabaseLocationError("the PostgreSQL URL names no database (postgres://user@host/name)")
        }
        guard let user = components.percentEncodedUser?.removingPercentEncoding, !user.isEmpty else {
            throw DatabaseLocationError("the PostgreSQL URL names no user (postgres://user@host/name)")
        }
        self.init(
            user: user, password: components.percentEncodedPassword?.removingPercentEncoding,
            host: socketDirectory == nil ? host : nil, port: port, socketDirectory: socketDirectory, database: name,
            applicationName: applicationName)
    }

    /// The URL without its password.
    public var description: String {
        let auth = password == nil ? user : "\(user):***"
        if let socketDirectory {
            return "postgres://\(auth)@:\(port)/\(database)?host=\(socketDirectory)"
        }
        let shownHost = (host ?? "").contains(":") ? "[\(host ?? "")]" : (host ?? "")
        return "postgres://\(auth)@\(shownHost):\(port)/\(database)"
    }
}
