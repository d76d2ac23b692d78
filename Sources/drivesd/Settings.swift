import Configuration
import DriveAPI
import DriveLifecycle
import DriveModel
import DriveStore
import Foundation
import Logging
import SystemPackage

/// Every configuration key drivesd reads, with its type, default and meaning. The same list is
/// documented in `config/drivesd.json` and in the README.
///
/// Sources, highest precedence first: command-line flags, environment variables (the key in
/// upper case with `_` for `.`, prefixed `DRIVESD_`: `DRIVESD_HTTP_PORT`), the YAML (or, by its
/// `.json` extension, JSON) file given with `--config`, then the defaults below.
///
/// - `http.host` (string, `127.0.0.1`): address to listen on.
/// - `http.port` (int, `8730`): port to listen on.
/// - `http.body_limit_bytes` (int, `4194304`): largest request body; larger ones get 413.
/// - `database.path` (string, `./drivesd.sqlite`): the SQLite database file (WAL mode).
/// - `database.synchronous` (string, `normal`): `normal` survives a crash of the daemon, `full`
///   also a power loss (an fsync per commit).
/// - `time_scale` (double, `1`): multiplies every simulated duration; 0 completes transitions on
///   the worker's next tick.
/// - `durations.create_seconds` (double, `1`), `durations.resize_seconds` (double, `2`),
///   `durations.clone_base_seconds` (double, `1`), `durations.clone_bytes_per_second`
///   (double, `1073741824`): simulated operation durations.
/// - `durations.start_seconds` / `durations.stop_seconds` (double, `1`): server starting → running
///   and stopping → stopped.
/// - `storage.hosts` (int, `4`): simulated storage hosts; drives are placed on them, which is what
///   availability groups and `avoid` work with.
/// - `servers.hotplug` (bool, `true`): whether `drives` changes apply to running servers.
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
/// - `log.level` (string, `info`): trace, debug, info, notice, warning, error or critical.
struct Settings {
    var host: String
    var port: Int
    var databasePath: String
    var synchronous: AppDatabase.Synchronous
    var api: APISettings
    var demoEmail: String
    var demoPassword: String
    var pbkdf2Iterations: Int
    var logLevel: Logger.Level

    static let defaults: [AbsoluteConfigKey: ConfigValue] = {
        var values: [AbsoluteConfigKey: ConfigValue] = [
            "http.host": "127.0.0.1",
            "http.port": 8730,
            "http.body_limit_bytes": 4_194_304,
            "database.path": "./drivesd.sqlite",
            "database.synchronous": "normal",
            "time_scale": 1.0,
            "durations.create_seconds": 1.0,
            "durations.resize_seconds": 2.0,
            "durations.clone_base_seconds": 1.0,
            "durations.clone_bytes_per_second": 1_073_741_824.0,
            "storage.default_type": "dssd",
            "storage.types": .init(.stringArray(StorageTypeLimits.defaults.map(\.name)), isSecret: false),
            "demo.email": "demo@drivesd.local",
            "demo.password": .init(.string("demo"), isSecret: true),
            "auth.realm": "users",
            "auth.pbkdf2_iterations": .init(.int(PasswordHasher.defaultIterations), isSecret: false),
            "auth.cache_ttl_seconds": 300,
            "log.level": "info",
            "jobs.retention_seconds": 259_200,
            "durations.start_seconds": 1.0,
            "durations.stop_seconds": 1.0,
            "storage.hosts": 4,
            "servers.hotplug": true,
        ]
        for limits in StorageTypeLimits.defaults {
            values[AbsoluteConfigKey(["storage", limits.name, "min_size"])] = .init(.int(Int(limits.minSize)), isSecret: false)
            values[AbsoluteConfigKey(["storage", limits.name, "max_size"])] = .init(.int(Int(limits.maxSize)), isSecret: false)
        }
        return values
    }()

    /// Reads the settings from flags (`overrides`), the environment, `configFile` and defaults.
    static func load(configFile: String?, overrides: [AbsoluteConfigKey: ConfigValue]) async throws -> Settings {
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: overrides),
            KeyMappingProvider(upstream: EnvironmentVariablesProvider()) { $0.prepending(["drivesd"]) },
        ]
        if let configFile {
            guard FileManager.default.fileExists(atPath: configFile) else {
                throw SettingsError("configuration file \(configFile) does not exist")
            }
            do {
                if configFile.hasSuffix(".json") {
                    providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(configFile)))
                } else {
                    providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(configFile)))
                }
            } catch {
                throw SettingsError("cannot read configuration file \(configFile): \(error)")
            }
        }
        providers.append(InMemoryProvider(name: "defaults", values: defaults))
        return try Settings(reader: ConfigReader(providers: providers))
    }

    init(reader: ConfigReader) throws {
        func double(_ key: String) throws -> Double {
            let config = ConfigKey(key)
            if let d = try? reader.requiredDouble(forKey: config) { return d }
            do {
                return Double(try reader.requiredInt(forKey: config))
            } catch {
                throw SettingsError("\(key) must be a number")
            }
        }
        func int(_ key: String) throws -> Int {
            do { return try reader.requiredInt(forKey: ConfigKey(key)) } catch {
                throw SettingsError("\(key) must be an integer")
            }
        }
        func string(_ key: String) throws -> String {
            do { return try reader.requiredString(forKey: ConfigKey(key)) } catch {
                throw SettingsError("\(key) must be a string")
            }
        }

        host = try string("http.host")
        port = try int("http.port")
        guard (0...65535).contains(port) else { throw SettingsError("http.port must be between 0 and 65535") }
        databasePath = try string("database.path")
        guard let sync = AppDatabase.Synchronous(rawValue: try string("database.synchronous")) else {
            throw SettingsError("database.synchronous must be one of: normal, full")
        }
        synchronous = sync
        let bodyLimit = try int("http.body_limit_bytes")
        guard bodyLimit >= 1024 else { throw SettingsError("http.body_limit_bytes must be at least 1024") }

        let timeScale = try double("time_scale")
        guard timeScale >= 0, timeScale.isFinite else { throw SettingsError("time_scale must be a number >= 0") }
        let durations = OperationDurations(
            createSeconds: try double("durations.create_seconds"),
            resizeSeconds: try double("durations.resize_seconds"),
            cloneBaseSeconds: try double("durations.clone_base_seconds"),
            cloneBytesPerSecond: try double("durations.clone_bytes_per_second"),
            timeScale: timeScale)
        for (key, value) in [
            ("durations.create_seconds", durations.createSeconds), ("durations.resize_seconds", durations.resizeSeconds),
            ("durations.clone_base_seconds", durations.cloneBaseSeconds),
            ("durations.clone_bytes_per_second", durations.cloneBytesPerSecond),
        ] where !(value >= 0 && value.isFinite) {
            throw SettingsError("\(key) must be a number >= 0")
        }

        let typeNames: [String]
        do { typeNames = try reader.requiredStringArray(forKey: "storage.types") } catch {
            throw SettingsError("storage.types must be a list of strings")
        }
        var types: [StorageTypeLimits] = []
        for name in typeNames {
            guard StorageCatalogue.schemaChoices.contains(name) else {
                throw SettingsError(
                    "storage.types: \(name) is not a CloudSigma storage type (\(StorageCatalogue.schemaChoices.joined(separator: ", ")))")
            }
            let base =
                StorageTypeLimits.defaults.first { $0.name == name }
                ?? StorageTypeLimits(name: name, minSize: 536_870_912, maxSize: 15_492_389_427_364, iopsBase: 30000, iopsMin: 1, iopsMax: 60000)
            var limits = base
            if let min = try? reader.requiredInt(forKey: ConfigKey(["storage", name, "min_size"])) { limits.minSize = Int64(min) }
            if let max = try? reader.requiredInt(forKey: ConfigKey(["storage", name, "max_size"])) { limits.maxSize = Int64(max) }
            guard limits.minSize > 0, limits.maxSize >= limits.minSize else {
                throw SettingsError("storage.\(name): min_size must be positive and not above max_size")
            }
            types.append(limits)
        }
        guard !types.isEmpty else { throw SettingsError("storage.types must name at least one storage type") }
        let defaultType = try string("storage.default_type")
        guard types.contains(where: { $0.name == defaultType }) else {
            throw SettingsError("storage.default_type \(defaultType) is not among storage.types")
        }

        let ttl = try int("auth.cache_ttl_seconds")
        guard ttl >= 0 else { throw SettingsError("auth.cache_ttl_seconds must be >= 0") }
        let retention = try int("jobs.retention_seconds")
        guard retention >= 0 else { throw SettingsError("jobs.retention_seconds must be >= 0") }
        let hosts = try int("storage.hosts")
        guard (1...1024).contains(hosts) else { throw SettingsError("storage.hosts must be between 1 and 1024") }
        let hotplug: Bool
        do { hotplug = try reader.requiredBool(forKey: "servers.hotplug") } catch {
            throw SettingsError("servers.hotplug must be true or false")
        }
        let start = try double("durations.start_seconds"), stop = try double("durations.stop_seconds")
        guard start >= 0, stop >= 0, start.isFinite, stop.isFinite else {
            throw SettingsError("durations.start_seconds and durations.stop_seconds must be numbers >= 0")
        }
        api = APISettings(
            catalogue: StorageCatalogue(types: types, defaultType: defaultType), durations: durations,
            bodyLimit: bodyLimit, realm: try string("auth.realm"), credentialCacheTTL: .seconds(ttl),
            jobRetention: .seconds(retention), storageHosts: hosts, hotplug: hotplug, startSeconds: start,
            stopSeconds: stop)
        demoEmail = try string("demo.email")
        demoPassword = try string("demo.password")
        pbkdf2Iterations = try int("auth.pbkdf2_iterations")
        guard pbkdf2Iterations >= 1000 else { throw SettingsError("auth.pbkdf2_iterations must be at least 1000") }
        guard let level = Logger.Level(rawValue: try string("log.level")) else {
            throw SettingsError("log.level must be one of: trace, debug, info, notice, warning, error, critical")
        }
        logLevel = level
    }
}

struct SettingsError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
