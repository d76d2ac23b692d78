import DriveStorage
import Foundation
import Logging
import NIOPosix
import PostgresNIO

/// One PostgreSQL database shared by every drivesd process that names it: a pool of connections
/// (postgres-nio's `PostgresClient`), the schema's migrations, and the transactions the stores
/// run. Call ``run()`` in a long-running task (the serve command's service group, or
/// ``withRunning(_:logger:maxConnections:_:)`` for a command) before anything else.
public final class PostgresStore: Sendable {
    public let address: PostgresAddress
    let client: PostgresClient
    let logger: Logger
    /// The threads that run the stores' synchronous transaction bodies, each waiting for its
    /// connection's answers: one a connection, apart from Dispatch's threads (password hashes,
    /// file hashes), so neither can starve the other.
    let blocking: NIOThreadPool

    public init(address: PostgresAddress, logger: Logger, maxConnections: Int = 20) {
        self.address = address
        self.logger = logger
        var configuration: PostgresClient.Configuration
        if let socket = address.socketPath {
            configuration = .init(
                unixSocketPath: socket, username: address.user, password: address.password, database: address.database)
        } else {
            configuration = .init(
                host: address.host ?? "127.0.0.1", port: address.port, username: address.user, password: address.password,
                database: address.database, tls: .disable)
        }
        configuration.options.maximumConnections = max(2, maxConnections)
        configuration.options.minimumConnections = 0
        configuration.options.additionalStartupParameters = [("application_name", address.applicationName)]
        configuration.options.connectTimeout = .seconds(10)
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        blocking = NIOThreadPool(numberOfThreads: max(2, maxConnections))
        blocking.start()
    }

    /// Opens one connection outside the pool and closes it: a wrong password, database or host
    /// is reported at once, with the server's own message (the pool would keep retrying).
    public func checkConnection() async throws {
        do {
            try await dedicatedConnection().close()
        } catch {
            throw Self.translate(error)
        }
    }

    /// A connection of its own, outside the pool (the caller closes it).
    func dedicatedConnection() async throws -> PostgresConnection {
        var configuration: PostgresConnection.Configuration
        if let socket = address.socketPath {
            configuration = .init(
                unixSocketPath: socket, username: address.user, password: address.password, database: address.database)
        } else {
            configuration = .init(
                host: address.host ?? "127.0.0.1", port: address.port, username: address.user, password: address.password,
                database: address.database, tls: .disable)
        }
        configuration.options.additionalStartupParameters = [("application_name", address.applicationName)]
        return try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
    }

    /// Runs the connection pool until the task is cancelled.
    public func run() async {
        await client.run()
        try? await blocking.shutdownGracefully()
    }

    /// Opens a store on `address`, runs its pool while `body` runs, and stops it after: what a
    /// command that is not the daemon needs.
    public static func withRunning<T: Sendable>(
        _ address: PostgresAddress, logger: Logger, maxConnections: Int = 4,
        _ body: @Sendable (PostgresStore) async throws -> T
    ) async throws -> T {
        let store = PostgresStore(address: address, logger: logger, maxConnections: maxConnections)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await store.run()
                return nil
            }
            defer { group.cancelAll() }
            // Fails fast on a wrong address or password; meanwhile the pool's task starts (a
            // lease before it runs still works, but postgres-nio warns about it).
            try await store.checkConnection()
            return try await body(store)
        }
    }

    // MARK: Queries

    /// Every row of `query`, read with one connection from the pool (no transaction).
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        do {
            return try await client.query(query, logger: logger).collect()
        } catch {
            throw Self.translate(error)
        }
    }

    /// Runs `body` in one transaction on one connection: committed when it returns, rolled back
    /// when it throws.
    func transaction<T: Sendable>(_ body: (PostgresTransaction) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: logger)
                let transaction = PostgresTransaction(connection: connection, logger: logger)
                do {
                    let value = try await body(transaction)
                    try await connection.query("COMMIT", logger: logger)
                    return value
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        } catch {
            throw Self.translate(error)
        }
    }

    /// The server's version, e.g. `PostgreSQL 15.18 …`; a cheap way to check the connection.
    public func serverVersion() async throws -> String {
        let rows = try await rows("SELECT version()")
        return try rows.first?.decode(String.self) ?? ""
    }

    /// A PostgreSQL error as the stores' errors: the server's message and SQLSTATE kept, the
    /// connection details (which may carry the password) left out.
    static func translate(_ error: any Error) -> any Error {
        guard let error = error as? PSQLError else { return error }
        if let info = error.serverInfo {
            return PostgresServerError(
                sqlState: info[.sqlState] ?? "", message: info[.message] ?? "", detail: info[.detail])
        }
        // No answer from the server: the connection failed (refused, unreachable, closed).
        return PostgresServerError(
            sqlState: "", message: "cannot connect (\(error.code)\(error.underlying.map { ": \($0)" } ?? ""))", detail: nil)
    }
}

/// A failure reported by the PostgreSQL server (or the connection to it).
public struct PostgresServerError: Error, Equatable, CustomStringConvertible {
    /// The SQLSTATE, e.g. `23505` (unique violation), `40001` (serialization failure).
    public var sqlState: String
    public var message: String
    public var detail: String?

    public var description: String {
        let state = sqlState.isEmpty ? "" : " (SQLSTATE \(sqlState))"
        return "PostgreSQL: \(message)\(state)" + (detail.map { ": \($0)" } ?? "")
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }
}

/// One open transaction: queries run on its connection, in order.
struct PostgresTransaction: Sendable {
    let connection: PostgresConnection
    let logger: Logger

    /// Every row of `query`.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await connection.query(query, logger: logger).collect()
    }

    /// Runs `query` and returns how many rows it returned (use `RETURNING 1` to count the rows
    /// an UPDATE or DELETE changed).
    @discardableResult
    func run(_ query: PostgresQuery) async throws -> Int {
        try await connection.query(query, logger: logger).collect().count
    }

    /// Runs a script of several statements (a migration): each is sent on its own, since the
    /// extended protocol takes one statement a query.
    func runScript(_ script: String) async throws {
        for statement in SQLScript.statements(script) {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
    }
}

extension PostgresStore {
    /// Creates database `name` on this store's server unless it exists (for tools and tests that
    /// give each run a database of its own; the role needs CREATEDB), as a copy of database
    /// `template` when one is given (nobody may be connected to it: PostgreSQL's rule). Names are
    /// plain identifiers: letters, digits and underscores.
    public func createDatabaseIfMissing(_ name: String, template: String? = nil) async throws {
        for identifier in [name, template].compactMap({ $0 }) {
            guard !identifier.isEmpty, identifier.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw PostgresServerError(sqlState: "42602", message: "invalid database name \(identifier)", detail: nil)
            }
        }
        if try await rows("SELECT 1 FROM pg_database WHERE datname = \(name)").isEmpty {
            _ = try await rows(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)" + (template.map { " TEMPLATE \($0)" } ?? "")))
        }
    }
}
