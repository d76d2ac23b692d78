import Configuration
import DriveAPI
import DriveContent
import DriveLifecycle
import DriveModel
import DriveStorage
import DriveStore
import Foundation
import Logging
import SystemPackage
import Yams

/// Every configuration key drivesd reads, with its type, default and meaning. The same list is
/// documented in `config/drivesd.yaml` and in the README.
///
/// Sources, highest precedence first: command-line flags, environment variables (the key in
/// upper case with `_` for `.`, prefixed `DRIVESD_`: `DRIVESD_HTTP_PORT`), the YAML (or, by its
/// `.json` extension, JSON) file given with `--config`, then the defaults below.
///
/// - `http.host` (string, `127.0.0.1`): address to listen on.
/// - `http.port` (int, `8730`): port to listen on.
/// - `http.body_limit_bytes` (int, `4194304`): largest request body; larger ones get 413.
/// - `database.path` (string, `./drivesd.sqlite`): the SQLite database file (WAL mode), or a
///   PostgreSQL URL (`postgres://user:password@host:port/name`, also `postgresql://`, and
///   `?host=/run/postgresql` for a Unix socket) that several drivesd processes may share.
/// - `database.max_connections` (int, `20`): PostgreSQL only, the pool of each process.
/// - `storage.data_dir` (string, empty): the data directory holding drives' bytes; empty means
///   `drivesd-data` beside the database file.
/// - `http.upload_chunk_limit_bytes` (int, `67108864`): largest body of one upload chunk.
/// - `http.tls.certificate` / `http.tls.key` (string, empty): PEM files of the certificate chain
///   and its private key; both set: drivesd serves HTTPS (and `wss:`) instead of HTTP.
/// - `http.idle_timeout_seconds` (int, `60`): a connection that sends nothing for this long
///   (before its first request, between requests, or in the middle of one) is closed; 0 never.
/// - `http.handlers_on_event_loops` (bool, `true`): Swift's global executor is NIO's event
///   loops (one a core), so a request's handler runs on the thread that read it instead of
///   hopping to Swift's own pool and back; slow work (password hashes, file hashes) is handed
///   to Dispatch threads. `false` keeps Swift's pool.
/// - `auth.throttle_burst` (int, `20`): failed logins of one account from one address within a
///   minute before further attempts are refused for a doubling back-off; 0 turns it off.
/// - `events.queue_limit` (int, `1024`): change-event frames a websocket subscriber may have
///   waiting; one that falls further behind is closed with 1008.
/// - `events.ping_seconds` (int, `30`): how often idle websockets are pinged.
/// - `database.synchronous` (string, `normal`): `normal` survives a crash of the daemon, `full`
///   also a power loss (an fsync per commit).
/// - `time_scale` (double, `1`): multiplies every simulated duration; 0 completes transitions on
///   the worker's next tick.
/// - `durations.create_seconds` (double, `1`), `durations.resize_seconds` (double, `2`),
///   `durations.clone_base_seconds` (double, `1`), `durations.clone_bytes_per_second`
///   (double, `1073741824`): simulated operation durations.
/// - `durations.start_seconds` / `durations.stop_seconds` (double, `1`): server starting → running
///   and stopping → stopped.
/// - `durations.snapshot_seconds` (double, `1`): a snapshot's `creating` → `available`.
/// - `storage.hosts` (int, `4`): simulated storage hosts; drives are placed on them, which is what
///   availability groups and `avoid` work with.
/// - `servers.hotplug` (bool, `true`): whether `drives` changes apply to running servers.
/// - `networking.ips_per_account` / `networking.vlans_per_account` (int, `1`): the IPs and VLANs
///   (`/ips/`, `/vlans/`) every account holds; raising them tops accounts up at the next start,
///   lowering them takes nothing away.
/// - `storage.default_type` (string, `dssd`): the storage type of drives created without one.
/// - `storage.types` (string list, `dssd,nvme,zadara,local_nvme`): the storage types offered.
/// - `storage.<type>.min_size` / `storage.<type>.max_size` (int, bytes): size limits per type.
/// - `demo.email` (string, `demo@drivesd.local`), `demo.password` (string, `demo`): the account
///   created when the database has no user.
/// - `auth.realm` (string, `users`): the HTTP Basic realm.
/// - `auth.pbkdf2_iterations` (int, `210000`): PBKDF2-HMAC-SHA256 rounds for new passwords.
/// - `auth.cache_ttl_seconds` (int, `300`): how long verified credentials stay cached.
/// - `jobs.retention_seconds` (int, `259200`): finished jobs older than this are purged, with
///   their refs on drives (three days, as the real API keeps them).
/// - `admin.username` / `admin.password` (string, `admin` / `admin`): credentials of the admin API
///   under `/_drivesd/`; an empty password disables it (health and readiness stay open).
/// - `admin.request_log_size` (int, `1000`): how many recent requests `/_drivesd/requests` keeps.
/// - `log.level` (string, `info`): trace, debug, info, notice, warning, error or critical.
/// - `log.format` (string, `text`): `text`, or `json` for one JSON object per line.
/// - `cache.response_entries` (int, `20000`): rendered answers of drive GETs kept until the next
///   commit (each is current or not served); 0 turns the cache off.
/// - `benchmark.ceiling_route` (bool, `false`): serve `GET /_drivesd/ceiling`, a fixed 1 KiB JSON
///   answer the benchmark compares every API figure with.
/// - `shutdown.timeout_seconds` (double, `20`): how long a SIGTERM waits for in-flight requests
///   before the daemon exits anyway.
struct Settings {
    var host: String
    var port: Int
    /// `database.path` as written (a file path or a URL with its password).
    var databasePath: String
    /// What `database.path` selects: a SQLite file or a PostgreSQL database.
    var database: DatabaseLocation
    var maxConnections: Int
    /// The data directory (`storage.data_dir`, or `drivesd-data` beside the SQLite database; in
    /// the working directory for PostgreSQL, where every process must name the same shared one).
    var dataDirectory: String
    var synchronous: AppDatabase.Synchronous
    var api: APISettings
    var demoEmail: String
    var demoPassword: String
    var pbkdf2Iterations: Int
    var logLevel: Logger.Level
    var logFormat: LogFormat
    var shutdownTimeout: Double
    /// `http.handlers_on_event_loops`.
    var handlersOnEventLoops = true
    /// PEM paths of the certificate chain and key (HTTPS); nil: plain HTTP.
    var tls: (certificate: String, key: String)?
    /// `https` with TLS files, `http` without.
    var scheme: String { tls == nil ? "http" : "https" }

    enum LogFormat: String { case text, json }

    static let defaults: [AbsoluteConfigKey: ConfigValue] = {
        var values: [AbsoluteConfigKey: ConfigValue] = [
            "http.host": "127.0.0.1",
            "http.port": 8730,
            "http.body_limit_bytes": 4_194_304,
            "database.path": "./drivesd.sqlite",
            "database.max_connections": 20,
            "database.synchronous": "normal",
            "storage.data_dir": "",
            "http.upload_chunk_limit_bytes": 67_108_864,
            "http.idle_timeout_seconds": 60,
            "http.handlers_on_event_loops": true,
            "http.tls.certificate": "",
            "http.tls.key": "",
            "auth.throttle_burst": 20,
            "events.queue_limit": 1024,
            "events.ping_seconds": 30,
            "time_scale": 1.0,
            "durations.create_seconds": 1.0,
            "durations.resize_seconds": 2.0,
            "durations.clone_base_seconds": 1.0,
            "durations.clone_bytes_per_second": 1_073_741_824.0,
            "durations.start_seconds": 1.0,
            "durations.stop_seconds": 1.0,
            "durations.snapshot_seconds": 1.0,
            "storage.default_type": "dssd",
            "storage.types": .init(.stringArray(StorageTypeLimits.defaults.map(\.name)), isSecret: false),
            "storage.hosts": 4,
            "servers.hotplug": true,
            "networking.ips_per_account": 1,
            "networking.vlans_per_account": 1,
            "demo.email": "demo@drivesd.local",
            "demo.password": .init(.string("demo"), isSecret: true),
            "auth.realm": "users",
            "auth.pbkdf2_iterations": .init(.int(PasswordHasher.defaultIterations), isSecret: false),
            "auth.cache_ttl_seconds": 300,
            "jobs.retention_seconds": 259_200,
            "admin.username": "admin",
            "admin.password": .init(.string("admin"), isSecret: true),
            "admin.request_log_size": 1000,
            "log.level": "info",
            "log.format": "text",
            "shutdown.timeout_seconds": 20.0,
            "benchmark.ceiling_route": false,
            "cache.response_entries": 20_000,
        ]
        for limits in StorageTypeLimits.defaults {
            values[AbsoluteConfigKey(["storage", limits.name, "min_size"])] = .init(.int(Int(limits.minSize)), isSecret: false)
            values[AbsoluteConfigKey(["storage", limits.name, "max_size"])] = .init(.int(Int(limits.maxSize)), isSecret: false)
        }
        return values
    }()

    /// Every key a configuration file may hold (`storage.<type>.*` for every schema type).
    static var knownKeys: Set<String> {
        var keys = Set(defaults.keys.map { $0.components.joined(separator: ".") })
        for type in StorageCatalogue.schemaChoices {
            keys.insert("storage.\(type).min_size")
            keys.insert("storage.\(type).max_size")
        }
        return keys
    }

    /// Reads the settings from flags (`overrides`), the environment, `configFile` and defaults.
    /// Throws a ``SettingsError`` listing every problem found.
    static func load(configFile: String?, overrides: [AbsoluteConfigKey: ConfigValue]) async throws -> Settings {
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: overrides),
            KeyMappingProvider(upstream: EnvironmentVariablesProvider()) { $0.prepending(["drivesd"]) },
        ]
        // Every problem is reported in one pass: the file's unknown keys together with what is
        // wrong in the values drivesd reads (only a file that does not parse stops here).
        var problems: [String] = []
        if let configFile {
            guard FileManager.default.fileExists(atPath: configFile) else {
                throw SettingsError(["configuration file \(configFile) does not exist"])
            }
            problems = try unknownKeys(in: configFile)
            do {
                if configFile.hasSuffix(".json") {
                    providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(configFile)))
                } else {
                    providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(configFile)))
                }
            } catch {
                throw SettingsError(["\(configFile) is not valid \(configFile.hasSuffix(".json") ? "JSON" : "YAML"): \(error)"])
            }
        }
        providers.append(InMemoryProvider(name: "defaults", values: defaults))
        do {
            let settings = try Settings(reader: ConfigReader(providers: providers))
            if !problems.isEmpty { throw SettingsError(problems) }
            return settings
        } catch let error as SettingsError {
            throw SettingsError(problems + error.problems.filter { !problems.contains($0) })
        }
    }

    /// Keys of the file that drivesd does not read: most likely typos, which would otherwise be
    /// silently ignored.
    static func unknownKeys(in path: String) throws -> [String] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw SettingsError(["cannot read \(path): \(error.localizedDescription)"])
        }
        let tree: Any?
        do { tree = try Yams.load(yaml: text) } catch {  // YAML is a superset of JSON
            throw SettingsError(["\(path) does not parse: \(error)"])
        }
        guard let root = tree as? [String: Any] else {
            if tree == nil { return [] }
            throw SettingsError(["\(path) must hold a mapping of keys at its top level"])
        }
        var found: [String] = []
        func walk(_ node: [String: Any], _ prefix: String) {
            for (key, value) in node {
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                if let child = value as? [String: Any] { walk(child, path) } else { found.append(path) }
            }
        }
        walk(root, "")
        let known = knownKeys
        return found.filter { !known.contains($0) }.sorted().map { key in
            let hint = known.min { levenshtein($0, key) < levenshtein($1, key) }
            if let hint, levenshtein(hint, key) <= 3 { return "\(key): unknown key (did you mean \(hint)?)" }
            return "\(key): unknown key"
        }
    }

    static func levenshtein(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }

    init(reader: ConfigReader) throws {
        var problems: [String] = []
        func number(_ key: String, _ fallback: Double, min: Double = 0, max: Double = .greatestFiniteMagnitude) -> Double {
            let config = ConfigKey(key)
            var value: Double?
            if let d = try? reader.requiredDouble(forKey: config) { value = d } else if let i = try? reader.requiredInt(forKey: config) {
                value = Double(i)
            }
            guard let value, value.isFinite, value >= min, value <= max else {
                problems.append("\(key) must be a number between \(min) and \(max)")
                return fallback
            }
            return value
        }
        func int(_ key: String, _ fallback: Int, min: Int = 0, max: Int = .max) -> Int {
            guard let value = try? reader.requiredInt(forKey: ConfigKey(key)) else {
                problems.append("\(key) must be an integer")
                return fallback
            }
            guard value >= min, value <= max else {
                problems.append("\(key) must be between \(min) and \(max), got \(value)")
                return fallback
            }
            return value
        }
        func string(_ key: String, _ fallback: String, choices: [String]? = nil) -> String {
            guard let value = try? reader.requiredString(forKey: ConfigKey(key)) else {
                problems.append("\(key) must be a string")
                return fallback
            }
            if let choices, !choices.contains(value) {
                problems.append("\(key) must be one of: \(choices.joined(separator: ", ")); got \"\(value)\"")
                return fallback
            }
            return value
        }

        host = string("http.host", "127.0.0.1")
        port = int("http.port", 8730, max: 65535)
        databasePath = string("database.path", "./drivesd.sqlite")
        do {
            database = try DatabaseLocation(parsing: databasePath)
        } catch {
            problems.append("database.path: \(error.description)")
            database = .sqlite(path: "./drivesd.sqlite")
        }
        maxConnections = int("database.max_connections", 20, min: 2, max: 1000)
        let dataDir = string("storage.data_dir", "")
        switch database {
        case .sqlite(let path):
            dataDirectory = dataDir.isEmpty ? ContentDirectory.defaultRoot(forDatabase: path) : dataDir
        case .postgres:
            dataDirectory = dataDir.isEmpty ? "./drivesd-data" : dataDir
        }
        synchronous =
            AppDatabase.Synchronous(
                rawValue: string("database.synchronous", "normal", choices: AppDatabase.Synchronous.allCases.map(\.rawValue))) ?? .normal
        let bodyLimit = int("http.body_limit_bytes", 4_194_304, min: 1024, max: 1 << 30)
        let year = 31_536_000.0
        let timeScale = number("time_scale", 1, max: 1000)
        let durations = OperationDurations(
            createSeconds: number("durations.create_seconds", 1, max: year),
            resizeSeconds: number("durations.resize_seconds", 2, max: year),
            cloneBaseSeconds: number("durations.clone_base_seconds", 1, max: year),
            cloneBytesPerSecond: number("durations.clone_bytes_per_second", 1_073_741_824), timeScale: timeScale)

        var typeNames = StorageTypeLimits.defaults.map(\.name)
        if let names = try? reader.requiredStringArray(forKey: "storage.types") { typeNames = names } else {
            problems.append("storage.types must be a list of strings")
        }
        var types: [StorageTypeLimits] = []
        for name in typeNames {
            guard StorageCatalogue.schemaChoices.contains(name) else {
                problems.append(
                    "storage.types: \(name) is not a CloudSigma storage type (\(StorageCatalogue.schemaChoices.joined(separator: ", ")))")
                continue
            }
            var limits =
                StorageTypeLimits.defaults.first { $0.name == name }
                ?? StorageTypeLimits(name: name, minSize: 536_870_912, maxSize: 15_492_389_427_364, iopsBase: 30000, iopsMin: 1, iopsMax: 60000)
            if let min = try? reader.requiredInt(forKey: ConfigKey(["storage", name, "min_size"])) { limits.minSize = Int64(min) }
            if let max = try? reader.requiredInt(forKey: ConfigKey(["storage", name, "max_size"])) { limits.maxSize = Int64(max) }
            if limits.minSize <= 0 || limits.maxSize < limits.minSize {
                problems.append("storage.\(name): min_size must be positive and not above max_size")
            }
            types.append(limits)
        }
        if types.isEmpty { problems.append("storage.types must name at least one storage type") }
        let defaultType = string("storage.default_type", "dssd")
        if !types.isEmpty, !types.contains(where: { $0.name == defaultType }) {
            problems.append("storage.default_type \(defaultType) is not among storage.types (\(typeNames.joined(separator: ", ")))")
        }
        var hotplug = true
        if let value = try? reader.requiredBool(forKey: "servers.hotplug") { hotplug = value } else {
            problems.append("servers.hotplug must be true or false")
        }

        demoEmail = string("demo.email", "demo@drivesd.local")
        demoPassword = string("demo.password", "demo")
        pbkdf2Iterations = int("auth.pbkdf2_iterations", PasswordHasher.defaultIterations, min: 1000, max: 10_000_000)
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        logLevel = Logger.Level(rawValue: string("log.level", "info", choices: levels)) ?? .info
        logFormat = LogFormat(rawValue: string("log.format", "text", choices: ["text", "json"])) ?? .text
        shutdownTimeout = number("shutdown.timeout_seconds", 20, max: 3600)
        api = APISettings(
            catalogue: StorageCatalogue(types: types, defaultType: defaultType), durations: durations,
            bodyLimit: bodyLimit, realm: string("auth.realm", "users"),
            credentialCacheTTL: .seconds(int("auth.cache_ttl_seconds", 300, max: 86400)),
            jobRetention: .seconds(int("jobs.retention_seconds", 259_200)),
            storageHosts: int("storage.hosts", 4, min: 1, max: 1024), hotplug: hotplug,
            startSeconds: number("durations.start_seconds", 1, max: year),
            stopSeconds: number("durations.stop_seconds", 1, max: year),
            adminUsername: string("admin.username", "admin"), adminPassword: string("admin.password", "admin"),
            pbkdf2Iterations: pbkdf2Iterations, requestLogCapacity: int("admin.request_log_size", 1000, min: 1, max: 1_000_000))
        api.durations.snapshotSeconds = number("durations.snapshot_seconds", 1, max: year)
        api.ipsPerAccount = int("networking.ips_per_account", 1, max: 1000)
        api.vlansPerAccount = int("networking.vlans_per_account", 1, max: 1000)
        api.responseCacheEntries = int("cache.response_entries", 20_000, max: 10_000_000)
        api.uploadChunkLimit = int("http.upload_chunk_limit_bytes", 67_108_864, min: 1024, max: 1 << 30)
        api.loginThrottleBurst = int("auth.throttle_burst", 20, min: 0, max: 1_000_000)
        api.eventQueueLimit = int("events.queue_limit", 1024, min: 1, max: 1_000_000)
        api.eventPingInterval = .seconds(int("events.ping_seconds", 30, min: 1, max: 3600))
        let certificate = string("http.tls.certificate", "")
        let key = string("http.tls.key", "")
        switch (certificate.isEmpty, key.isEmpty) {
        case (true, true): tls = nil
        case (false, false):
            tls = (certificate, key)
            for (name, path) in [("http.tls.certificate", certificate), ("http.tls.key", key)]
            where !FileManager.default.isReadableFile(atPath: path) {
                problems.append("\(name): cannot read \(path)")
            }
        default:
            tls = nil
            problems.append("http.tls.certificate and http.tls.key go together: set both (PEM files) or neither")
        }
        api.scheme = tls == nil ? "http" : "https"
        api.listenAddress = "\(host.contains(":") ? "[\(host)]" : host):\(port)"
        let idle = int("http.idle_timeout_seconds", 60, min: 0, max: 86400)
        api.idleTimeout = idle == 0 ? nil : .seconds(idle)
        if let value = try? reader.requiredBool(forKey: "http.handlers_on_event_loops") { handlersOnEventLoops = value } else {
            problems.append("http.handlers_on_event_loops must be true or false")
        }
        if let ceiling = try? reader.requiredBool(forKey: "benchmark.ceiling_route") { api.ceilingRoute = ceiling } else {
            problems.append("benchmark.ceiling_route must be true or false")
        }
        if !problems.isEmpty { throw SettingsError(problems) }
    }
}

/// Everything wrong with a configuration, one problem a line.
struct SettingsError: Error, CustomStringConvertible {
    let problems: [String]
    init(_ problems: [String]) { self.problems = problems }
    var description: String { problems.joined(separator: "\n") }
}

/// drivesd refuses to listen beyond loopback with credentials anyone can guess.
enum ListenGuard {
    /// Whether `host` only accepts connections from this machine: `localhost`, 127.0.0.0/8, ::1.
    static func isLoopback(_ host: String) -> Bool {
        let host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { UInt8($0) != nil } && octets[0] == "127"
    }

    /// What is still at its default, each with the key that changes it: the admin password
    /// (unless the admin API is off), the demo account's password (the one it will be created
    /// with, or the one it has).
    static func defaultCredentials(_ settings: Settings, accounts: any AccountRepository) async throws -> [String] {
        var found: [String] = []
        if settings.api.adminPassword == "admin" {
            found.append(
                "the admin API's password is the default: set admin.password (DRIVESD_ADMIN_PASSWORD), or make it empty to turn the admin API off")
        }
        let demoDefault: Bool
        if try await accounts.listUsers().isEmpty {
            demoDefault = settings.demoPassword == "demo"
        } else {
            demoDefault = try await accounts.verifyUser(email: settings.demoEmail, password: "demo") != nil
        }
        if demoDefault {
            found.append(
                "the demo account \(settings.demoEmail) has the default password: set demo.password (DRIVESD_DEMO_PASSWORD) before it is created, or change it with `drivesd user password \(settings.demoEmail) --password ...`")
        }
        return found
    }
}
