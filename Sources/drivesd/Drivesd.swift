import ArgumentParser
import Configuration
import DriveAPI
import DriveContent
import DriveLifecycle
import DriveModel
import DrivesdApp
import DriveStorage
import DriveStore
import DriveStorePostgres
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

@main
struct Drivesd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drivesd",
        abstract: "A local, durable implementation of the CloudSigma API 2.0 Drives service.",
        subcommands: [Serve.self, Migrate.self, UserCommand.self, TokenCommand.self, CheckConfig.self, Backup.self, Restore.self, Verify.self, StateCommand.self],
        defaultSubcommand: Serve.self)
}

/// Options every command shares: where the database and the configuration file are.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "The SQLite database file (default ./drivesd.sqlite), or a PostgreSQL URL (postgres://user:password@host:port/name).")
    var database: String?

    @Option(name: .long, help: "A YAML (or .json) configuration file (see config/drivesd.yaml).")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "The data directory of drives' bytes (default drivesd-data beside the database).")
    var dataDir: String?

    /// `--database` and `--data-dir` as configuration values.
    var overrides: [AbsoluteConfigKey: ConfigValue] {
        var overrides: [AbsoluteConfigKey: ConfigValue] = [:]
        if let database { overrides["database.path"] = .init(.string(database), isSecret: false) }
        if let dataDir { overrides["storage.data_dir"] = .init(.string(dataDir), isSecret: false) }
        return overrides
    }

    func settings(extra: [AbsoluteConfigKey: ConfigValue] = [:]) async throws -> Settings {
        let overrides = self.overrides.merging(extra) { _, new in new }
        do {
            return try await Settings.load(configFile: config, overrides: overrides)
        } catch let error as SettingsError {
            throw ValidationError("configuration:\n" + error.problems.map { "  - \($0)" }.joined(separator: "\n"))
        }
    }

    /// Opens the SQLite database `settings` names; a PostgreSQL URL is refused with `why` (what
    /// this command cannot do there, and what to do instead).
    func openDatabase(_ settings: Settings, postgres why: String = "") throws -> DriveStore.AppDatabase {
        switch settings.database {
        case .sqlite(let path):
            return try DriveStore.AppDatabase.open(path: path, synchronous: settings.synchronous)
        case .postgres(let address):
            throw ValidationError(
                why.isEmpty ? "this command works on SQLite databases only, and \(address) is PostgreSQL" : why)
        }
    }

    /// Opens and migrates the database (SQLite or PostgreSQL), runs `body` with its accounts,
    /// closes it (also when `body` throws); account errors become the command line's validation
    /// errors.
    func withAccounts<T: Sendable>(_ body: @Sendable (any AccountRepository, Settings) async throws -> T) async throws -> T {
        let settings = try await settings()
        do {
            switch settings.database {
            case .sqlite(let path):
                let database = try DriveStore.AppDatabase.open(path: path, synchronous: settings.synchronous)
                defer { try? database.close() }
                try database.migrate()
                return try await body(database, settings)
            case .postgres(let address):
                return try await PostgresStore.withRunning(address, logger: Self.commandLogger) { store in
                    try await store.migrate()
                    return try await body(store, settings)
                }
            }
        } catch let error as UserError {
            throw ValidationError(error.description)
        } catch let error as PostgresServerError {
            throw ValidationError("\(settings.database): \(error.description)")
        }
    }

    /// The logger of the PostgreSQL pool in commands other than serve: warnings and errors.
    static var commandLogger: Logger {
        var logger = Logger(label: "drivesd")
        logger.logLevel = .warning
        return logger
    }

    func contentDirectory(_ settings: Settings) -> ContentDirectory {
        ContentDirectory(root: settings.dataDirectory, syncWrites: settings.synchronous == .full)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the API.")

    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (default 8730; 0: a free port the system picks, see --port-file).") var port: Int?
    @Option(
        name: .customLong("port-file"),
        help: "Once the socket is bound, write the port it is bound to (a number and a newline) to this file.")
    var portFile: String?
    @Option(name: .customLong("time-scale"), help: "Multiplies every simulated duration (default 1; 0 = next worker tick).")
    var timeScale: Double?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        var overrides: [AbsoluteConfigKey: ConfigValue] = [:]
        if let host { overrides["http.host"] = .init(.string(host), isSecret: false) }
        if let port { overrides["http.port"] = .init(.int(port), isSecret: false) }
        if let timeScale { overrides["time_scale"] = .init(.double(timeScale), isSecret: false) }
        let settings = try await store.settings(extra: overrides)
        // Before the server, the worker and the hub start their tasks. The same measurements
        // (Benchmarks/README.md, round 3): a no-cache GET of a drive +40% and its server CPU a
        // request -26%, a page of 20 +44% (p99 9.2 -> 5.6 ms); the ceiling route -8%.
        let onEventLoops = settings.handlersOnEventLoops
            && NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        Memory.returnLargeBuffersToTheSystem()
        let logLevel = settings.logLevel
        let json = settings.logFormat == .json
        LoggingSystem.bootstrap { label in
            if json { return JSONLogHandler(label: label, logLevel: logLevel) }
            return TextLogHandler(label: label, logLevel: logLevel)
        }
        // Lines still buffered when serve returns (a clean stop, or a failure at start) are
        // written before the process exits.
        defer { LogSink.standardError.flush() }
        var logger = Logger(label: "drivesd")
        logger.logLevel = logLevel
        if let files = FileLimit.raiseToHard() {
            logger.info("open files limit", metadata: ["soft_at_start": "\(files.soft)", "soft": "\(files.now)"])
        }

        // The database: a SQLite file, or a PostgreSQL database whose connection pool and
        // LISTEN connection run until serve returns.
        let backend: DrivesdApp.Backend
        let accounts: any AccountRepository
        let networks: any NetworkRepository
        var background: [Task<Void, Never>] = []
        defer { for task in background { task.cancel() } }
        switch settings.database {
        case .sqlite(let path):
            let database = try DriveStore.AppDatabase.open(path: path, synchronous: settings.synchronous)
            let applied = try database.migrate()
            if !applied.isEmpty { logger.info("applied migrations", metadata: ["migrations": "\(applied)"]) }
            backend = .sqlite(database)
            accounts = database
            networks = DriveStore.SQLNetworkRepository(database: database)
        case .postgres(let address):
            let pool = PostgresStore(address: address, logger: logger, maxConnections: settings.maxConnections)
            background.append(Task { await pool.run() })
            do {
                try await pool.checkConnection()
            } catch let error as PostgresServerError {
                throw ValidationError("\(address): \(error.description)")
            }
            let database = PostgresAppDatabase(store: pool)
            let applied = try await database.migrate()
            if !applied.isEmpty { logger.info("applied migrations", metadata: ["migrations": "\(applied)"]) }
            background.append(Task { await database.listen() })
            backend = .postgres(database)
            accounts = pool
            networks = DriveStorePostgres.SQLNetworkRepository(database: database)
        }
        if !ListenGuard.isLoopback(settings.host), case let defaults = try await ListenGuard.defaultCredentials(settings, accounts: accounts),
            !defaults.isEmpty
        {
            throw ValidationError(
                "refusing to listen on \(settings.host), which is reachable from other machines, while "
                    + defaults.joined(separator: "; and ")
                    + " (or listen on 127.0.0.1 only: http.host, DRIVESD_HTTP_HOST)")
        }
        if try await accounts.listUsers().isEmpty {
            do {
                let user = try await accounts.createUser(
                    email: settings.demoEmail, password: settings.demoPassword, iterations: settings.pbkdf2Iterations)
                logger.notice(
                    "created the demo account",
                    metadata: ["email": "\(user.email)", "password": "\(settings.demoPassword)", "uuid": "\(user.uuid)"])
            } catch UserError.emailTaken {
                // Another process sharing the PostgreSQL database made it first.
            }
        }
        try await networks.allot(ips: settings.api.ipsPerAccount, vlans: settings.api.vlansPerAccount)
        let directory = store.contentDirectory(settings)
        try directory.prepare()
        // SQLite: one process owns the data directory. PostgreSQL: every process sharing the
        // database shares its data directory too.
        var lock: DataDirectoryLock?
        if case .sqlite = backend {
            lock = try DataDirectoryLock(directory)
            guard lock != nil else {
                throw ValidationError("the data directory \(directory.root) is in use by another drivesd process")
            }
        }
        defer { lock?.release() }
        var apiSettings = settings.api
        apiSettings.accessLog = json ? JSONLogHandler.accessLine : { TextLogHandler.accessLine($0) }
        if case .postgres = backend {
            // Another process's commit reaches this one a moment after it is acknowledged
            // (NOTIFY): a cached answer could be stale in that moment, so nothing is cached.
            apiSettings.responseCacheEntries = 0
        }
        let api = try await DrivesdApp.buildAPI(backend, dataDirectory: directory, settings: apiSettings, logger: logger)
        var prepared = (interruptedUploads: 0, removedImages: 0, removedFiles: 0, libraryImages: 0)
        switch backend {
        case .sqlite:
            prepared = try await api.content.prepare()
            try await api.events.prepare()
        case .postgres(let database):
            // The start-up clean-up runs only in a process that finds no other serving.
            let alone = try await database.joinServers {
                prepared = try await api.content.prepare()
                try await api.events.prepare()
            }
            if !alone {
                _ = try await api.content.prepare(removeUnreferenced: false)
                logger.info("joined the processes serving the database; the start-up clean-up is theirs")
            }
        }
        logger.info(
            "data directory ready",
            metadata: [
                "path": "\(directory.root)", "interrupted_uploads_removed": "\(prepared.interruptedUploads)",
                "unreferenced_images_removed": "\(prepared.removedImages)", "unreferenced_files_removed": "\(prepared.removedFiles)",
                "library_images_made": "\(prepared.libraryImages)",
            ])
        logger.info(
            "drivesd serving",
            metadata: [
                "endpoint": "\(settings.scheme)://\(settings.host):\(settings.port)/api/2.0/", "database": "\(settings.database)",
                "data_dir": "\(settings.dataDirectory)",
                "time_scale": "\(settings.api.durations.timeScale)",
                "handlers_on_event_loops": "\(onEventLoops)",
            ])
        let runningLogger = logger
        let portFile = self.portFile
        if let portFile {
            // Fail now rather than leave whoever waits for the file waiting.
            let directory = (portFile as NSString).deletingLastPathComponent
            guard FileManager.default.isWritableFile(atPath: directory.isEmpty ? "." : directory) else {
                throw ValidationError("--port-file \(portFile): cannot write in \(directory.isEmpty ? "." : directory)")
            }
        }
        let tls = try settings.tls.map { try TLSFiles.serverConfiguration(certificate: $0.certificate, key: $0.key) }
        let app = try api.buildApplication(host: settings.host, port: settings.port, logger: logger, tls: tls) { channel in
            let logger = runningLogger
            logger.info("listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
            if let portFile, let port = channel.localAddress?.port {
                do { try PortFile.write(port, to: portFile) } catch {
                    logger.error("cannot write the port file", metadata: ["path": "\(portFile)", "error": "\(error)"])
                }
            }
            // Migrations ran and the socket is bound: tell systemd (Type=notify).
            if SystemdNotifier.notify("READY=1") { logger.info("notified systemd: READY=1") }
        }
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: app), .init(service: SystemdStopNotifier(logger: logger)),
                .init(
                    service: IdleMemoryTrimmer(
                        connections: api.connections,
                        release: {
                            if case .sqlite(let database) = backend { database.releaseMemory() }
                        }),
                    successTerminationBehavior: .ignore),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int64(settings.shutdownTimeout * 1000))
        // In-flight requests finish first, then the worker stops between ticks, then the
        // database closes (its WAL checkpointed).
        try await ServiceGroup(configuration: configuration).run()
        switch backend {
        case .sqlite(let database): try database.close()
        case .postgres(let database): await database.leaveServers()
        }
        logger.info("drivesd stopped")
    }
}

/// `serve --port-file`: the bound port, for whoever started drivesd on port 0 (test harnesses,
/// scripts). Written to a temporary name beside the file, then renamed over it, so that a reader
/// never sees a partial number.
enum PortFile {
    static func write(_ port: Int, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        try Data("\(port)\n".utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            let error = errno
            unlink(temporary)
            throw POSIXError(POSIXErrorCode(rawValue: error) ?? .EIO)
        }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration (file, environment and defaults) and explain each error.")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        do {
            let settings = try await Settings.load(configFile: store.config, overrides: store.overrides)
            print("configuration OK\(store.config.map { " (\($0))" } ?? " (defaults and environment)")")
            print("  listen: \(settings.scheme)://\(settings.host):\(settings.port)  database: \(settings.database) (\(settings.database.engine))")
            print("  storage types: \(settings.api.catalogue.types.map(\.name).joined(separator: ", ")) (default \(settings.api.catalogue.defaultType))")
            print("  time scale: \(settings.api.durations.timeScale)  log: \(settings.logLevel) \(settings.logFormat.rawValue)")
        } catch let error as SettingsError {
            print("configuration has \(error.problems.count) error\(error.problems.count == 1 ? "" : "s"):")
            for problem in error.problems { print("  - \(problem)") }
            throw ExitCode(1)
        }
    }
}

struct Backup: AsyncParsableCommand {
    /// What to do instead on PostgreSQL, whose own tools copy a live database consistently.
    static func postgresAdvice(_ settings: Settings) -> String {
        """
        drivesd backup copies SQLite databases; \(settings.database) is PostgreSQL. Back it up with its own tools, \
        then copy the data directory:
          pg_dump --format=custom --file=drivesd.dump '<the database URL>'
          cp -a --reflink=auto \(settings.dataDirectory) drivesd-data.backup
        (dump first, copy second: content a dump references is never removed while the copy runs, \
        since drivesd deletes a content file only after the rows naming it are gone). Restore with the daemons stopped:
          pg_restore --clean --if-exists --dbname='<the database URL>' drivesd.dump
          rm -rf \(settings.dataDirectory) && cp -a drivesd-data.backup \(settings.dataDirectory)
        """
    }

    static let configuration = CommandConfiguration(
        abstract: "Write an online, consistent copy of the database and the drives' content to the directory PATH.")
    @Argument(help: "A new directory: PATH/drivesd.sqlite and PATH/data/.") var path: String
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let settings = try await store.settings()
        guard !FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("\(path) exists; drivesd backup writes a new directory")
        }
        let database = try store.openDatabase(settings, postgres: Self.postgresAdvice(settings))
        defer { try? database.close() }
        let report = try await ContentBackup.backup(
            database: database, dataDirectory: store.contentDirectory(settings), to: path, progress: Progress(label: "content"))
        print(
            "backed up \(settings.database) and \(report.extents) content files (\(report.bytes) bytes, \(report.linked) hard-linked) to \(path)")
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace the database and the drives' content with the backup at PATH (stop the daemon first).")
    @Argument(help: "A directory written by drivesd backup (or a database file of an older release's backup).") var path: String
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let settings = try await store.settings()
        if case .postgres = settings.database { throw ValidationError(Backup.postgresAdvice(settings)) }
        let directory = store.contentDirectory(settings)
        try directory.prepare()
        guard let lock = try DataDirectoryLock(directory) else {
            throw ValidationError("the data directory \(directory.root) is in use: stop the daemon before restoring")
        }
        defer { lock.release() }
        let database = try store.openDatabase(settings)
        do {
            let report = try await ContentBackup.restore(
                database: database, dataDirectory: directory, from: path, progress: Progress(label: "content"))
            try database.migrate()
            try database.close()
            print("restored \(settings.database) and \(report.extents) content files from \(path)")
        } catch let error as StoreError {
            try? database.close()
            throw ValidationError("restore failed: \(error.description)")
        }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that every piece of content the database references exists with its checksum; list what nothing references.")
    @Flag(help: "Remove the files nothing references (stop the daemon first).") var repair = false
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let settings = try await store.settings()
        let directory = store.contentDirectory(settings)
        var logger = Logger(label: "drivesd")
        logger.logLevel = .warning
        let report: VerifyReport
        switch settings.database {
        case .sqlite(let path):
            var lock: DataDirectoryLock?
            if repair {
                lock = try DataDirectoryLock(directory)
                guard lock != nil else { throw ValidationError("the data directory \(directory.root) is in use: stop the daemon before --repair") }
            }
            defer { lock?.release() }
            let database = try DriveStore.AppDatabase.open(path: path, synchronous: settings.synchronous)
            defer { try? database.close() }
            try database.migrate()
            let stores = try database.stores(durations: OperationDurations())
            let service = ContentService(directory: directory, repository: stores.content, catalogue: settings.api.catalogue, logger: logger)
            report = try await service.verify(repair: repair, progress: Progress(label: "verify"))
        case .postgres(let address):
            let repair = self.repair
            let catalogue = settings.api.catalogue
            let logger = logger
            report = try await PostgresStore.withRunning(address, logger: StoreOptions.commandLogger) { pool in
                let database = PostgresAppDatabase(store: pool)
                try await database.migrate()
                let stores = try await database.stores(durations: OperationDurations())
                let service = ContentService(directory: directory, repository: stores.content, catalogue: catalogue, logger: logger)
                guard repair else { return try await service.verify(repair: false, progress: Progress(label: "verify")) }
                // Repair removes what no row references: only with no daemon serving the database
                // (one could be writing an upload's files).
                let found = LockedValue<VerifyReport?>(nil)
                let alone = try await database.joinServers {
                    found.set(try await service.verify(repair: true, progress: Progress(label: "verify")))
                }
                await database.leaveServers()
                guard alone, let report = found.get() else {
                    throw ValidationError("drivesd processes are serving \(address): stop them before --repair")
                }
                return report
            }
        }
        for problem in report.damaged { print("DAMAGED \(problem)") }
        for path in report.unreferenced { print("\(repair ? "REMOVED" : "UNREFERENCED") \(path)") }
        print(
            "checked \(report.checked) content files (\(report.bytes) bytes): \(report.damaged.count) damaged, \(report.unreferenced.count) unreferenced\(repair ? " (removed)" : "")"
        )
        if !report.damaged.isEmpty { throw ExitCode(1) }
    }
}

/// A value set inside a non-escaping closure and read after it.
final class LockedValue<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func set(_ new: T) { lock.withLock { value = new } }
    func get() -> T { lock.withLock { value } }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending migrations and exit.")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let settings = try await store.settings()
        let applied: [String]
        switch settings.database {
        case .sqlite:
            let database = try store.openDatabase(settings)
            applied = try database.migrate()
            try database.close()
        case .postgres(let address):
            do {
                applied = try await PostgresStore.withRunning(address, logger: StoreOptions.commandLogger) { try await $0.migrate() }
            } catch let error as PostgresServerError {
                throw ValidationError("\(address): \(error.description)")
            }
        }
        print(applied.isEmpty ? "no pending migrations" : applied.map { "applied \($0)" }.joined(separator: "\n"))
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage the accounts of the API.", subcommands: [Add.self, List.self, Password.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user and print its UUID.")
        @Argument(help: "The user's email (the Basic auth user name).") var email: String
        @Option(help: "The user's password.") var password: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withAccounts { accounts, settings in
                let user = try await accounts.createUser(email: email, password: password, iterations: settings.pbkdf2Iterations)
                print(user.uuid)
            }
        }
    }

    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a user's password (and its Digest HA1); the user's sessions end, the old password stops working at once.")
        @Argument(help: "The user's email or UUID.") var user: String
        @Option(help: "The new password.") var password: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withAccounts { accounts, settings in
                let user = try await accounts.setPassword(user: user, password: password, iterations: settings.pbkdf2Iterations)
                print(user.uuid)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users: UUID, email, creation time.")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withAccounts { accounts, _ in
                for user in try await accounts.listUsers() {
                    print("\(user.uuid)\t\(user.email)\t\(user.createdAt)")
                }
            }
        }
    }
}

/// Bearer tokens for the Go SDK and Terraform (`Authorization: Bearer …`). Stored hashed; a
/// revoked token stops working within a second, also in a daemon that is running.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Issue, list and revoke bearer tokens.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a token for a user and print it (shown this once).")
        @Argument(help: "The user's email (or UUID).") var email: String
        @Option(name: .customLong("expires-in"), help: "Seconds until the token expires (default: never).")
        var expiresIn: Double?
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withAccounts { accounts, _ in
                let issued = try await accounts.createToken(user: email, expiresIn: expiresIn, now: Date())
                print(issued.token)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a user's tokens: id, creation time, expiry (never the tokens themselves).")
        @Argument(help: "The user's email (or UUID).") var email: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withAccounts { accounts, _ in
                for token in try await accounts.tokens(user: email) {
                    print("\(token.id)\t\(token.createdAt)\t\(token.expiresAt.map { Timestamp.string($0) } ?? "never")")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token (given as itself or as its listed id).")
        @Argument(help: "The token, or its id from `token list`.") var token: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let revoked = try await store.withAccounts { accounts, _ in try await accounts.revokeToken(token) }
            guard revoked else { throw ValidationError("no such token") }
            print("revoked")
        }
    }
}
