import ArgumentParser
import DriveLifecycle
import DriveModel
import DriveStorage
import DriveStore
import DriveStorePostgres
import Foundation
import Logging

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `drivesd state save|load|list|delete`: named states from the command line.
///
/// On SQLite the command takes the data directory's lock: when it gets it no daemon runs, and it
/// works on the database itself (holding the lock, so no daemon starts meanwhile); when a daemon
/// holds it, the command asks that daemon's admin API (`--url`, or the configuration's
/// `http.host`/`http.port`, with `admin.username`/`admin.password`), whose response cache and
/// websockets then see the load. On PostgreSQL it works on the database, as every process there
/// does: running daemons learn of the commit through `NOTIFY`.
struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Save, load, list and delete named states: the whole environment, or one account's.",
        subcommands: [Save.self, Load.self, List.self, Delete.self])

    struct Target: ParsableArguments {
        @OptionGroup var store: StoreOptions
        @Option(help: "The running daemon's address (default: http://<http.host>:<http.port> of the configuration).")
        var url: String?
    }

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Save the current state under NAME.")
        @Argument(help: "The state's name: letters, digits, '.', '-', '_'.") var name: String
        @Option(help: "Save this account only (uuid or email); default: every account.") var account: String?
        @Flag(help: "Replace a state of the same name.") var replace = false
        @OptionGroup var target: Target

        func run() async throws {
            let state = try await target.perform(.save(name: name, account: account, replace: replace))
            if case .state(let saved) = state { print("saved \(StateCommand.describe(saved))") }
        }
    }

    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the live state (every account, or the state's account) with the saved state NAME.")
        @Argument(help: "The state's name.") var name: String
        @OptionGroup var target: Target

        func run() async throws {
            if case .loaded(let result) = try await target.perform(.load(name: name)) {
                print(
                    "loaded \(StateCommand.describe(result.state)): \(result.deleted) rows deleted, \(result.updated) updated, \(result.inserted) inserted"
                )
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the saved states: name, scope, created, drives, servers, snapshots, logical and stored bytes.")
        @OptionGroup var target: Target

        func run() async throws {
            if case .list(let states) = try await target.perform(.list) {
                for s in states {
                    print(
                        [
                            s.name, s.accountEmail ?? s.account ?? "all", s.created, "\(s.drives)", "\(s.servers)",
                            "\(s.snapshots)", "\(s.logicalBytes)", "\(s.storedBytes)",
                        ].joined(separator: "\t"))
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete the saved state NAME.")
        @Argument(help: "The state's name.") var name: String
        @OptionGroup var target: Target

        func run() async throws {
            _ = try await target.perform(.delete(name: name))
            print("deleted \(name)")
        }
    }

    static func describe(_ s: SavedState) -> String {
        "\(s.name) (\(s.account == nil ? "every account" : "account \(s.accountEmail ?? s.account ?? "")"), \(s.drives) drives, \(s.servers) servers, \(s.snapshots) snapshots, \(s.logicalBytes) logical bytes, \(s.storedBytes) stored)"
    }
}

enum StateOperation: Sendable {
    case save(name: String, account: String?, replace: Bool)
    case load(name: String)
    case list
    case delete(name: String)
}

enum StateOutcome: Sendable {
    case state(SavedState)
    case loaded(StateLoadResult)
    case list([SavedState])
    case deleted
}

/// A failure the command reports as itself (`Error: …`, exit status 1).
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
}

extension StateCommand.Target {
    func perform(_ operation: StateOperation) async throws -> StateOutcome {
        let settings = try await store.settings()
        do {
            switch settings.database {
            case .sqlite(let path):
                let directory = store.contentDirectory(settings)
                try FileManager.default.createDirectory(atPath: directory.root, withIntermediateDirectories: true)
                guard let lock = try DataDirectoryLock(directory) else {
                    // A daemon serves this data directory: through its admin API.
                    return try await Self.request(operation, base: url ?? "\(settings.scheme)://\(Self.host(settings.host)):\(settings.port)", settings: settings)
                }
                defer { lock.release() }
                let database = try DriveStore.AppDatabase.open(path: path, synchronous: settings.synchronous)
                defer { try? database.close() }
                try database.migrate()
                return try await Self.perform(operation, on: try database.stores(durations: OperationDurations()).states)
            case .postgres(let address):
                return try await PostgresStore.withRunning(address, logger: StoreOptions.commandLogger) { pool in
                    let database = PostgresAppDatabase(store: pool)
                    try await database.migrate()
                    return try await Self.perform(operation, on: try await database.stores(durations: OperationDurations()).states)
                }
            }
        } catch let error as CloudSigmaError {
            throw CommandFailure(description: error.message)
        } catch let error as PostgresServerError {
            throw CommandFailure(description: "\(settings.database): \(error.description)")
        }
    }

    static func perform(_ operation: StateOperation, on states: any StateRepository) async throws -> StateOutcome {
        switch operation {
        case .save(let name, let account, let replace):
            return .state(try await states.save(name: name, account: account, replace: replace, now: Date()))
        case .load(let name):
            return .loaded(try await states.load(name: name, now: Date()))
        case .list:
            return .list(try await states.list())
        case .delete(let name):
            guard try await states.delete(name: name) else { throw CommandFailure(description: "no state named \(name)") }
            return .deleted
        }
    }

    /// Where to reach a daemon listening on `host` (every address: the loopback one).
    static func host(_ host: String) -> String {
        switch host {
        case "0.0.0.0", "": "127.0.0.1"
        case "::": "[::1]"
        default: host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        }
    }

    // MARK: Through the admin API

    static func request(_ operation: StateOperation, base: String, settings: Settings) async throws -> StateOutcome {
        let root = base.hasSuffix("/") ? String(base.dropLast()) : base
        let escape = { (name: String) in name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name }
        let (method, path, body): (String, String, [String: Any]?) =
            switch operation {
            case .save(let name, let account, let replace):
                ("POST", "/_drivesd/states", ["name": name, "account": account as Any? ?? NSNull(), "replace": replace])
            case .load(let name): ("POST", "/_drivesd/states/\(escape(name))/load", [:])
            case .list: ("GET", "/_drivesd/states", nil)
            case .delete(let name): ("DELETE", "/_drivesd/states/\(escape(name))", nil)
            }
        guard let url = URL(string: root + path) else { throw CommandFailure(description: "not a URL: \(root)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = 300
        let credentials = Data("\(settings.api.adminUsername):\(settings.api.adminPassword)".utf8).base64EncodedString()
        request.setValue("Basic \(credentials)", forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw CommandFailure(
                description: "the data directory is in use by a daemon, and its admin API at \(root) cannot be reached (\(error.localizedDescription)); pass --url")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        // The admin API's own JSON type: the same reading of its answers as the tests'.
        let json = data.isEmpty ? nil : try? JSONDecoder().decode(JSONValue.self, from: data)
        guard (200..<300).contains(status) else {
            if let message = json?.arrayValue?.first?["error_message"]?.stringValue {
                throw CommandFailure(description: message)
            }
            throw CommandFailure(description: "\(root) answered \(status): \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
        switch operation {
        case .save: return .state(try savedState(json))
        case .list: return .list(try (json?["objects"]?.arrayValue ?? []).map(savedState))
        case .load:
            return .loaded(
                StateLoadResult(
                    state: try savedState(json?["state"]), deleted: Int(integer(json?["deleted"])),
                    updated: Int(integer(json?["updated"])), inserted: Int(integer(json?["inserted"]))))
        case .delete: return .deleted
        }
    }

    static func integer(_ value: JSONValue?) -> Int64 {
        if case .int(let n)? = value { return n }
        return 0
    }

    /// A state's description as `AdminController.stateJSON` writes it.
    static func savedState(_ json: JSONValue?) throws -> SavedState {
        guard let o = json, let name = o["name"]?.stringValue else {
            throw CommandFailure(description: "the admin API answered something that is not a state")
        }
        return SavedState(
            name: name, account: o["account"]?["uuid"]?.stringValue, accountEmail: o["account"]?["email"]?.stringValue,
            created: o["created"]?.stringValue ?? "", savedAt: 0, drives: Int(integer(o["drives"])),
            servers: Int(integer(o["servers"])), snapshots: Int(integer(o["snapshots"])),
            logicalBytes: integer(o["logical_bytes"]), storedBytes: integer(o["stored_bytes"]))
    }
}
