import DriveAPI
import DriveContent
import DriveStorage
import DrivesdApp
import DriveLifecycle
import DriveModel
import DriveStore
import DriveStorePostgres
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// A response with its body parsed as JSON.
struct Reply {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String
    let json: JSONValue?

    var code: Int { status.code }

    /// The single error of an error array: (type, point, message).
    var error: (type: String?, point: String?, message: String?) {
        guard case .array(let items)? = json, let first = items.first else { return (nil, nil, nil) }
        return (first["error_type"]?.stringValue, first["error_point"]?.stringValue, first["error_message"]?.stringValue)
    }

    var objects: [JSONValue] { json?["objects"]?.arrayValue ?? [] }
    var first: JSONValue? { objects.first }
    var totalCount: Int64? {
        if case .int(let n)? = json?["meta"]?["total_count"] { return n }
        return nil
    }
}

/// An account's Basic credentials.
struct Account {
    let user: User
    let password: String

    var authorization: String {
        "Basic " + Data("\(user.email):\(password)".utf8).base64EncodedString()
    }
}

/// The daemon's API over a temp-file database, with two accounts, driven through
/// HummingbirdTesting's router framework (no sockets). The worker is stepped by hand with
/// `tick()` so that tests see each status deterministically.
struct TestEnv {
    let api: DrivesAPI
    let alice: Account
    let bob: Account
    let client: any TestClientProtocol
    /// The store the daemon runs on (for checks below the API).
    let backend: DrivesdApp.Backend

    func request(
        _ method: HTTPRequest.Method, _ path: String, body: String? = nil, as account: Account? = nil,
        authenticated: Bool = true, headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if authenticated, headers[.authorization] == nil { headers[.authorization] = (account ?? alice).authorization }
        if body != nil { headers[.contentType] = "application/json" }
        let response = try await client.executeRequest(
            uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let text = String(buffer: response.body)
        let json = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        return Reply(status: response.status, headers: response.headers, text: text, json: json)
    }

    /// A request with a raw body; the answer's body as bytes.
    func send(
        _ method: HTTPRequest.Method, _ path: String, bytes: [UInt8]? = nil, as account: Account? = nil,
        authenticated: Bool = true, headers extra: HTTPFields = [:]
    ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: [UInt8]) {
        var headers = extra
        if authenticated, headers[.authorization] == nil { headers[.authorization] = (account ?? alice).authorization }
        let response = try await client.executeRequest(
            uri: path, method: method, headers: headers, body: bytes.map { ByteBuffer(bytes: $0) })
        return (response.status, response.headers, Array(response.body.readableBytesView))
    }

    func get(_ path: String, as account: Account? = nil) async throws -> Reply {
        try await request(.get, path, as: account)
    }

    /// Creates one drive and returns its uuid.
    func createDrive(
        name: String = "drive", size: Int64 = 1_073_741_824, media: String = "disk", extra: String = "",
        as account: Account? = nil
    ) async throws -> String {
        let reply = try await request(
            .post, "/api/2.0/drives/",
            body: #"{"objects": [{"name": "\#(name)", "size": \#(size), "media": "\#(media)"\#(extra)}]}"#, as: account)
        try #require(reply.code == 201, "create failed: \(reply.text)")
        return try #require(reply.first?["uuid"]?.stringValue)
    }

    /// Completes every due transition now.
    @discardableResult
    func tick() async throws -> [String] { try await api.worker.tick() }

    func status(_ uuid: String, as account: Account? = nil) async throws -> String? {
        try await get("/api/2.0/drives/\(uuid)/", as: account).json?["status"]?.stringValue
    }
}

extension OperationDurations {
    /// The test daemon's durations: a millionth of the configured ones (a create 1 µs, a server's
    /// start 1 µs: `APISettings` sets those two), all long due when a test steps the worker
    /// (`TestEnv.tick`), none zero: a create due as it starts completes in its own transaction,
    /// and the tests of what a `creating` drive allows need it `creating` until they tick.
    static let stepped = OperationDurations(timeScale: 0.000_001)
}

enum TestDatabase {
    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("drivesd-test-\(UUID().uuidString).sqlite").path
    }

    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}

/// Runs `body` against a fresh daemon. `durations` default to `OperationDurations.stepped`.
func withDrivesd(
    settings: APISettings = APISettings(durations: OperationDurations.stepped),
    path: String? = nil,
    runWorker: Bool = false,
    _ body: @Sendable (TestEnv) async throws -> Void
) async throws {
    let dbPath = path ?? TestDatabase.temporaryPath()
    defer { if path == nil { TestDatabase.remove(dbPath) } }
    let opened = try await TestBackend.open(path: dbPath)
    let alice = Account(user: opened.alice, password: "alice-secret")
    let bob = Account(user: opened.bob, password: "bob-secret")
    var logger = Logger(label: "drivesd-test")
    logger.logLevel = .warning
    let dataDir = dbPath + "-data"
    defer { if path == nil { try? FileManager.default.removeItem(atPath: dataDir) } }
    let api = try await DrivesdApp.buildAPI(
        opened.backend, dataDirectory: ContentDirectory(root: dataDir), settings: settings, logger: logger)
    _ = try await api.content.prepare()
    let app = Application(
        router: api.buildRouter(), services: runWorker ? [api.worker, api.outboxRunner] : [], logger: logger)
    do {
        try await app.test(.router) { client in
            try await body(TestEnv(api: api, alice: alice, bob: bob, client: client, backend: opened.backend))
        }
    } catch {
        try? await opened.close()
        throw error
    }
    try await opened.close()
}

/// Which storage the API tests run on: SQLite (a temp file), or PostgreSQL when
/// `DRIVESD_TEST_POSTGRES_URL` names a server where the role may create databases
/// (`scripts/test` starts a private cluster and runs the API tests a second time on it).
enum TestBackend {
    static let postgresURL = ProcessInfo.processInfo.environment["DRIVESD_TEST_POSTGRES_URL"]
    static var isPostgres: Bool { postgresURL != nil }

    struct Opened: Sendable {
        let backend: DrivesdApp.Backend
        let alice: User
        let bob: User
        let close: @Sendable () async throws -> Void
    }

    /// The database of `path` (a temp file path; on PostgreSQL the name of a database derived
    /// from it, so that opening the same path again opens the same data), migrated, with Alice
    /// and Bob.
    static func open(path: String) async throws -> Opened {
        guard let postgresURL else {
            let database = try AppDatabase.open(path: path)
            try database.migrate()
            let alice = try await existingOrNew(database, "alice@example.com")
            let bob = try await existingOrNew(database, "bob@example.com")
            return Opened(backend: .sqlite(database), alice: alice, bob: bob, close: { try database.close() })
        }
        guard case .postgres(var address) = try DatabaseLocation(parsing: postgresURL) else {
            throw TestBackendError("DRIVESD_TEST_POSTGRES_URL is not a postgres:// URL")
        }
        let logger = postgresLogger
        // The tests run in parallel: at most `databaseSlots` databases hold connections at once
        // (up to 3 each), within the private cluster's 600 (scripts/pg-cluster).
        await databaseSlots.wait()
        address.database = "t_" + String(fnv1a(path), radix: 16)
        do {
            try await createDatabase(address.database, template: await migratedTemplate.value)
        } catch {
            databaseSlots.signal()
            throw error
        }
        let pool = PostgresStore(address: address, logger: logger, maxConnections: 3)
        let running = Task { await pool.run() }
        let database = PostgresAppDatabase(store: pool)
        // No LISTEN connection: one process per test database (the process tests run two).
        do {
            try await pool.checkConnection()
            try await database.migrate()
            let alice = try await existingOrNew(pool, "alice@example.com")
            let bob = try await existingOrNew(pool, "bob@example.com")
            return Opened(
                backend: .postgres(database), alice: alice, bob: bob,
                close: {
                    running.cancel()
                    databaseSlots.signal()
                })
        } catch {
            running.cancel()
            databaseSlots.signal()
            throw error
        }
    }

    static let databaseSlots = TestSemaphore(150)

    /// A database migrated once for the whole run, that each test's database is a copy of:
    /// copying it costs the server a fraction of running every migration again for each of the
    /// tests, which run in parallel on two cores. (The migrations of an existing database are
    /// still run by each test, and find nothing to apply.)
    static let migratedTemplate = Task<String, any Error> {
        guard let postgresURL else { throw TestBackendError("no DRIVESD_TEST_POSTGRES_URL") }
        var address = try postgresAddress(postgresURL)
        address.database = "t_template_" + UUID().uuidString.prefix(8).lowercased()
        try await createDatabase(address.database)
        // Every connection to it is closed when this returns: a copy needs the template unused.
        try await PostgresStore.withRunning(address, logger: postgresLogger) { store in
            _ = try await PostgresAppDatabase(store: store).migrate()
        }
        return address.database
    }

    /// Creates database `name` (a copy of `template`, if given) unless it exists, through a
    /// connection to the database DRIVESD_TEST_POSTGRES_URL names.
    private static func createDatabase(_ name: String, template: String? = nil) async throws {
        guard let postgresURL else { throw TestBackendError("no DRIVESD_TEST_POSTGRES_URL") }
        try await PostgresStore.withRunning(postgresAddress(postgresURL), logger: postgresLogger) { admin in
            try await admin.createDatabaseIfMissing(name, template: template)
        }
    }

    private static var postgresLogger: Logger {
        var logger = Logger(label: "drivesd-test-pg")
        logger.logLevel = .error
        return logger
    }

    /// The accounts of the database of `path` through a connection of their own: what another
    /// process (the command line, a second daemon) sees and changes.
    static func otherProcess(path: String) async throws
        -> (accounts: any AccountRepository, close: @Sendable () async throws -> Void)
    {
        guard let postgresURL else {
            let database = try AppDatabase.open(path: path)
            return (database, { try database.close() })
        }
        var address = try postgresAddress(postgresURL)
        address.database = "t_" + String(fnv1a(path), radix: 16)
        var logger = Logger(label: "drivesd-test-pg-other")
        logger.logLevel = .error
        let pool = PostgresStore(address: address, logger: logger, maxConnections: 2)
        let running = Task { await pool.run() }
        return (pool, {
            running.cancel()
            await running.value
        })
    }

    private static func postgresAddress(_ url: String) throws -> PostgresAddress {
        guard case .postgres(let address) = try DatabaseLocation(parsing: url) else {
            throw TestBackendError("DRIVESD_TEST_POSTGRES_URL is not a postgres:// URL")
        }
        return address
    }

    private static func existingOrNew(_ accounts: any AccountRepository, _ email: String) async throws -> User {
        if let user = try await accounts.user(email) { return user }
        let password = email.hasPrefix("alice") ? "alice-secret" : "bob-secret"
        return try await accounts.createUser(email: email, password: password, iterations: 1000)
    }

    /// FNV-1a of `text`: a name that is the same in every run for the same path.
    private static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}

/// A counting semaphore for tasks (waiters suspend, in order).
final class TestSemaphore: @unchecked Sendable {
    private let lock = NSLock()
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { available = count }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if available > 0 {
                available -= 1
                lock.unlock()
                continuation.resume()
            } else {
                waiters.append(continuation)
                lock.unlock()
            }
        }
    }

    func signal() {
        lock.lock()
        if waiters.isEmpty {
            available += 1
            lock.unlock()
        } else {
            let next = waiters.removeFirst()
            lock.unlock()
            next.resume()
        }
    }
}

struct TestBackendError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Parses a captured dump (`HTTP/1.1 ...` head, blank line, JSON body) from Fixtures/.
func fixture(_ name: String) throws -> (status: Int, body: JSONValue?) {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
    let text = try String(contentsOf: url, encoding: .utf8)
    let firstLine = text.split(separator: "\n").first.map(String.init) ?? ""
    let status = firstLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    guard let start = text.firstIndex(where: { $0 == "{" || $0 == "[" }) else { return (status, nil) }
    let body = try JSONDecoder().decode(JSONValue.self, from: Data(text[start...].utf8))
    return (status, body)
}

/// Differences in shape between a captured response and ours: every key of the capture must be
/// present in ours with the same JSON type. Only a null in the capture is a wildcard (the captures
/// are of drives in other states); a null or an empty array on our side matches nothing but a null
/// or an empty array in the capture, so an answer that lost a value or a list's objects differs.
/// Values are not compared: uuids and timestamps differ.
///
/// `allowing` names the paths (`$.objects[0].jobs`) where our answer may legitimately be null or
/// empty where the capture is not (the test made no such object); each must be named by the
/// test that compares, with its reason there.
func shapeDifferences(golden: JSONValue, ours: JSONValue, path: String = "$", allowing: Set<String> = []) -> [String] {
    switch (golden, ours) {
    case (.null, _):
        return []
    case (.object(let g), .object(let o)):
        var diffs: [String] = []
        for (key, value) in g {
            guard let mine = o[key] else {
                diffs.append("\(path).\(key) missing")
                continue
            }
            if key == "meta" {
                // User data: only its type is part of the shape.
                if case .object = mine {} else { diffs.append("\(path).meta is not a dict") }
                continue
            }
            diffs += shapeDifferences(golden: value, ours: mine, path: "\(path).\(key)", allowing: allowing)
        }
        return diffs
    case (.array(let g), .array(let o)):
        guard let gFirst = g.first else { return [] }
        guard let oFirst = o.first else {
            return allowing.contains(path) ? [] : ["\(path): \(g.count) items in the capture, none here"]
        }
        return shapeDifferences(golden: gFirst, ours: oFirst, path: "\(path)[0]", allowing: allowing)
    case (.int, .int), (.double, .double), (.int, .double), (.double, .int), (.bool, .bool), (.string, .string):
        return []
    default:
        if case .null = ours, allowing.contains(path) { return [] }
        return ["\(path): \(golden.typeName) in the capture, \(ours.typeName) here"]
    }
}

/// Byte-for-byte equality as one Bool: `#expect(a == b)` on megabytes makes Swift Testing render
/// and diff both arrays when it fails, which takes minutes (a failing test must fail, not hang).
func sameBytes<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
    a.count == b.count && a.elementsEqual(b)
}

/// The same for a response body and the bytes sent, with one `memcmp` (the generic comparison
/// costs about a second per 6 MiB in a debug build).
func sameBytes(_ a: ByteBuffer, _ b: [UInt8]) -> Bool {
    a.readableBytes == b.count
        && a.withUnsafeReadableBytes { x in b.withUnsafeBytes { y in b.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, b.count) == 0 } }
}
