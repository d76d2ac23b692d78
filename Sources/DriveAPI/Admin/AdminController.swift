import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The admin API under `/_drivesd/`: health and readiness (no credentials), and with the admin
/// credentials: metrics, reset, accounts, transition control, fault injection, the request log.
struct AdminController {
    let api: DrivesAPI

    func register(on router: Router<DrivesRequestContext>) {
        let open = router.group("_drivesd")
        open.resource("health", get: { _, _ in .json(.object(["status": .string("ok")])) })
        open.resource("ready", get: ready)
        let admin = router.group("_drivesd")
            .add(middleware: AdminAuthMiddleware(access: api.adminAccess))
        admin.resource("metrics", get: metrics)
        admin.resource("reset", post: reset)
        admin.resource("accounts", get: listAccounts, post: createAccount)
        admin.resource("transitions", get: { _, _ in .json(transitionModes) })
        admin.resource("transitions/:operation", get: getTransition, put: setTransition)
        admin.resource("advance", post: advance)
        admin.resource("faults", get: { _, _ in .json(.object(["objects": .array(api.faults.reports())])) }, post: registerFaults)
        admin.resource("faults/:id", get: { _, context in
            let id = try context.parameters.require("id")
            guard let report = api.faults.report(id) else { throw CloudSigmaError(.notexist, "No fault set with id \(id)") }
            return .json(report)
        })
        admin.resource("drives/:uuid/availability", put: setAvailability)
        admin.resource("requests", get: requests)
        admin.resource("pending", get: pending)
        admin.resource("overview", get: { _, _ in .json(try await overview().json) })
        // Drives' bytes of any account, through the API's own upload and download protocols
        // (the console's upload page and download links use them).
        let acting = admin.group("accounts/:account").add(middleware: ActAsAccountMiddleware(accounts: api.stores.accounts))
        ContentController(content: api.content, repository: api.stores.content, drives: api.stores.drives, settings: api.settings)
            .register(on: acting)
        registerCredentials(on: admin)
        registerStates(on: admin)
        admin.resource("storage", get: { _, _ in .json(Self.storageJSON(try await api.stores.content.stats())) })
    }

    /// `GET /_drivesd/storage`: what the drives hold and what the data directory stores.
    static func storageJSON(_ stats: ContentStats) -> JSONValue {
        .object([
            "logical_bytes": .int(stats.logicalBytes), "stored_bytes": .int(stats.storedBytes),
            "shared_bytes": .int(stats.sharedBytes), "pieces": .int(stats.pieces), "images": .int(stats.images),
        ])
    }

    /// Database open and migrated, worker running: 200; otherwise 503 with what is missing.
    @Sendable func ready(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        var checks: [String: JSONValue] = [:]
        var ok = true
        do {
            let migrated = try api.stores.admin.isMigrated()
            checks["database"] = .string("ok")
            checks["migrations"] = .string(migrated ? "ok" : "pending")
            ok = ok && migrated
        } catch {
            checks["database"] = .string("unavailable: \(error)")
            ok = false
        }
        let running = api.worker.isRunning
        checks["worker"] = .string(running ? "running" : "stopped")
        ok = ok && running
        // Open HTTP connections, this request's included (not a check: informs).
        checks["connections"] = .int(Int64(api.connections.current))
        checks["status"] = .string(ok ? "ready" : "not ready")
        return .json(.object(checks), status: ok ? .ok : .serviceUnavailable)
    }

    @Sendable func metrics(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let stats = try await api.stores.admin.stats()
        var out = api.metrics.render()
        func gauge(_ name: String, _ help: String, _ values: [String: Int], label: String, known: [String]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for key in Set(known).union(values.keys).sorted() {
                out += "\(name){\(label)=\"\(key)\"} \(values[key] ?? 0)\n"
            }
        }
        gauge("drivesd_drives", "Drives by status.", stats.drivesByStatus, label: "status", known: DriveStatus.allCases.map(\.rawValue))
        gauge("drivesd_servers", "Servers by status.", stats.serversByStatus, label: "status", known: ServerStatus.allCases.map(\.rawValue))
        gauge("drivesd_jobs", "Jobs by state.", stats.jobsByState, label: "state", known: Job.State.allCases.map(\.rawValue))
        out += "# HELP drivesd_pending_transitions Status transitions waiting for the worker.\n# TYPE drivesd_pending_transitions gauge\n"
        out += "drivesd_pending_transitions \(stats.pendingTransitions)\n"
        out += "# HELP drivesd_held_transitions Transitions held by manual transition mode.\n# TYPE drivesd_held_transitions gauge\n"
        out += "drivesd_held_transitions \(stats.heldTransitions)\n"
        out += "# HELP drivesd_outbox_pending After-commit effects not yet carried out.\n# TYPE drivesd_outbox_pending gauge\n"
        out += "drivesd_outbox_pending \(stats.pendingEffects)\n"
        let content = try await api.stores.content.stats()
        for (name, help, value) in [
            ("drivesd_content_logical_bytes", "The sum of every drive's size.", content.logicalBytes),
            ("drivesd_content_stored_bytes", "Bytes stored in the data directory (extent files).", content.storedBytes),
            ("drivesd_content_shared_bytes", "Stored bytes that more than one drive references (counted once).", content.sharedBytes),
            ("drivesd_content_pieces", "Extent files in the data directory.", content.pieces),
        ] {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(value)\n"
        }
        let events = api.events.statistics
        out += "# HELP drivesd_event_subscribers Open websockets receiving change events.\n# TYPE drivesd_event_subscribers gauge\n"
        out += "drivesd_event_subscribers \(events.subscribers)\n"
        out += "# HELP drivesd_event_frames_total Change events published (one per changed resource).\n"
        out += "# TYPE drivesd_event_frames_total counter\ndrivesd_event_frames_total \(events.published)\n"
        out += "# HELP drivesd_event_subscribers_closed_slow_total Websockets closed because their queue overflowed.\n"
        out += "# TYPE drivesd_event_subscribers_closed_slow_total counter\n"
        out += "drivesd_event_subscribers_closed_slow_total \(events.closedSlow)\n"
        out += "# HELP drivesd_http_connections Open HTTP connections (websockets included).\n"
        out += "# TYPE drivesd_http_connections gauge\ndrivesd_http_connections \(api.connections.current)\n"
        out += "# HELP drivesd_http_connections_total HTTP connections accepted since start.\n"
        out += "# TYPE drivesd_http_connections_total counter\ndrivesd_http_connections_total \(api.connections.total)\n"
        out += "# HELP drivesd_http_connections_closed_before_request_total Connections closed because no complete request head arrived within the idle timeout.\n"
        out += "# TYPE drivesd_http_connections_closed_before_request_total counter\n"
        out += "drivesd_http_connections_closed_before_request_total \(api.connections.closedBeforeRequest)\n"
        out += "# HELP drivesd_users Accounts.\n# TYPE drivesd_users gauge\ndrivesd_users \(stats.users)\n"
        out += "# HELP drivesd_database_bytes Size of the database file and its WAL.\n# TYPE drivesd_database_bytes gauge\n"
        out += "drivesd_database_bytes \(stats.databaseBytes)\n"
        out += "# HELP drivesd_worker_completed_transitions_total Transitions the worker completed since start.\n"
        out += "# TYPE drivesd_worker_completed_transitions_total counter\n"
        out += "drivesd_worker_completed_transitions_total \(api.worker.completedCount)\n"
        let cache = api.responses.statistics
        out += "# HELP drivesd_response_cache_requests_total Drive GETs by whether a current cached answer served them.\n"
        out += "# TYPE drivesd_response_cache_requests_total counter\n"
        out += "drivesd_response_cache_requests_total{result=\"hit\"} \(cache.hits)\n"
        out += "drivesd_response_cache_requests_total{result=\"miss\"} \(cache.misses)\n"
        out += "drivesd_response_cache_requests_total{result=\"bypass\"} \(cache.bypasses)\n"
        out += "# HELP drivesd_response_cache_entries Answers held by the response cache.\n# TYPE drivesd_response_cache_entries gauge\n"
        out += "drivesd_response_cache_entries \(cache.entries)\n"
        out += "# HELP drivesd_response_cache_bytes Bytes of the answers held by the response cache.\n# TYPE drivesd_response_cache_bytes gauge\n"
        out += "drivesd_response_cache_bytes \(cache.bytes)\n"
        out += "# HELP drivesd_commits_total Write transactions committed since start.\n# TYPE drivesd_commits_total counter\n"
        out += "drivesd_commits_total \(api.stores.changes.commitCount)\n"
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: out)))
    }

    /// `{"account": "<uuid or email>"}` resets one account; no body (or `{}`) resets all.
    @Sendable func reset(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let body = try await request.jsonBody(limit: api.settings.bodyLimit)
        var account: String?
        if let value = body?["account"], !value.isNull {
            guard case .string(let s) = value else { throw CloudSigmaError.validation("account", "account must be a uuid or an email") }
            account = s
        }
        let removed = try await api.stores.admin.reset(account: account)
        api.authenticator.invalidate()
        return .json(.object(["reset": .string(account ?? "all"), "drives_removed": .int(Int64(removed))]))
    }

    @Sendable func listAccounts(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let users = try await api.stores.accounts.listUsers()
        return .json(
            .array(users.map { .object(["uuid": .string($0.uuid), "email": .string($0.email), "created": .string($0.createdAt)]) }))
    }

    /// `{"email", "password"}` → 201 `{"uuid", "email"}`.
    @Sendable func createAccount(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let body = try await request.jsonBody(limit: api.settings.bodyLimit)
        guard case .string(let email)? = body?["email"] else {
            throw CloudSigmaError.validation("email", "This field is required")
        }
        guard case .string(let password)? = body?["password"] else {
            throw CloudSigmaError.validation("password", "This field is required")
        }
        do {
            // The password hash takes about 100 ms: not on a thread that serves requests.
            let (accounts, iterations) = (api.stores.accounts, api.settings.pbkdf2Iterations)
            let user = try await accounts.createUser(email: email, password: password, iterations: iterations)
            return .json(.object(["uuid": .string(user.uuid), "email": .string(user.email)]), status: .created)
        } catch let error as UserError {
            throw CloudSigmaError.validation(error == .emptyPassword ? "password" : "email", error.description)
        }
    }

    var transitionModes: JSONValue {
        let modes = api.stores.transitions.modes
        return .object(
            Dictionary(
                uniqueKeysWithValues: TransitionOperation.allCases.map { op in
                    (op.rawValue, Self.describe(modes[op]))
                }))
    }

    static func describe(_ mode: TransitionMode?) -> JSONValue {
        switch mode {
        case nil: .object(["mode": .string("configured")])
        case .immediate: .object(["mode": .string("immediate")])
        case .manual: .object(["mode": .string("manual")])
        case .time(let seconds): .object(["mode": .string("time"), "seconds": .double(seconds)])
        }
    }

    func operation(_ context: DrivesRequestContext) throws -> TransitionOperation {
        let raw = try context.parameters.require("operation")
        guard let op = TransitionOperation(rawValue: raw) else {
            throw CloudSigmaError(
                .notexist,
                "No operation \(raw); operations: \(TransitionOperation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return op
    }

    @Sendable func getTransition(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        .json(Self.describe(api.stores.transitions.mode(try operation(context))))
    }

    /// `{"mode": "immediate" | "manual" | "configured"}` or `{"mode": "time", "seconds": 2.5}`.
    @Sendable func setTransition(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let op = try operation(context)
        let body = try await request.jsonBody(limit: api.settings.bodyLimit)
        let seconds: Double?
        switch body?["seconds"] {
        case .int(let i)?: seconds = Double(i)
        case .double(let d)?: seconds = d
        case nil, .null?: seconds = nil
        default: throw CloudSigmaError.validation("seconds", "mode time needs seconds (a number >= 0)")
        }
        let mode = try Self.mode(named: body?["mode"]?.stringValue, seconds: seconds)
        try await api.stores.transitions.setMode(op, mode)
        return .json(Self.describe(mode))
    }

    /// The mode `name` (with `seconds` for `time`) names; nil for `configured`.
    static func mode(named name: String?, seconds: Double?) throws -> TransitionMode? {
        switch name {
        case "immediate": return .immediate
        case "manual": return .manual
        case "configured": return nil
        case "time":
            guard let seconds else { throw CloudSigmaError.validation("seconds", "mode time needs seconds (a number >= 0)") }
            guard seconds >= 0, seconds.isFinite, seconds <= 86400 * 365 else {
                throw CloudSigmaError.validation("seconds", "seconds must be between 0 and one year")
            }
            return .time(seconds: seconds)
        default:
            throw CloudSigmaError.validation("mode", "mode must be one of: immediate, time, manual, configured")
        }
    }

    /// Releases held (manual) transitions: all, or `{"operation"}` / `{"uuid"}` only.
    @Sendable func advance(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let body = try await request.jsonBody(limit: api.settings.bodyLimit)
        var op: TransitionOperation?
        if let raw = body?["operation"]?.stringValue {
            guard let parsed = TransitionOperation(rawValue: raw) else {
                throw CloudSigmaError.validation("operation", "Unknown operation \(raw)")
            }
            op = parsed
        }
        let released = try await api.stores.transitions.advance(operation: op, uuid: body?["uuid"]?.stringValue, now: Date())
        return .json(.object(["released": .int(Int64(released))]))
    }

    /// `{"faults": ["return-503", "delay-2s", "set-status:unavailable"]}` → 201 `{"id", "faults"}`.
    @Sendable func registerFaults(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        guard case .array(let items)? = try await request.jsonBody(limit: api.settings.bodyLimit)?["faults"] else {
            throw CloudSigmaError.validation("faults", "faults must be a non-empty list")
        }
        let texts = try items.map { item -> String in
            guard case .string(let text) = item else { throw Self.unknownFault(item.jsonString) }
            return text
        }
        let id = try registerFaults(texts)
        return .json(api.faults.report(id) ?? .null, status: .created)
    }

    /// Registers a fault list after checking every fault; returns its id.
    func registerFaults(_ texts: [String]) throws -> String {
        guard !texts.isEmpty else { throw CloudSigmaError.validation("faults", "faults must be a non-empty list") }
        for text in texts where FaultRegistry.Fault(text) == nil { throw Self.unknownFault(text) }
        return api.faults.register(texts)
    }

    static func unknownFault(_ text: String) -> CloudSigmaError {
        CloudSigmaError.validation(
            "faults", "Unknown fault \(text): use return-<4xx|5xx>, delay-<N>s, set-status:unavailable or set-status:available")
    }

    /// `{"status": "unavailable" | "available"}`: the storage host of the drive fails or returns.
    @Sendable func setAvailability(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let uuid = try context.parameters.require("uuid")
        let wanted = try await request.jsonBody(limit: api.settings.bodyLimit)?["status"]?.stringValue
        let status = try await setAvailability(uuid: uuid, wanted: wanted)
        return .json(.object(["uuid": .string(uuid), "status": .string(status.rawValue)]))
    }

    /// Moves the drive to `unavailable` or back (`wanted`: "unavailable" | "available"); its
    /// status afterwards.
    func setAvailability(uuid: String, wanted: String?) async throws -> DriveStatus {
        guard wanted == "unavailable" || wanted == "available" else {
            throw CloudSigmaError.validation("status", "status must be unavailable or available")
        }
        return try await api.stores.admin.setAvailability(driveUUID: uuid, available: wanted == "available")
    }

    /// `?limit=N` (default 100): the most recent requests, oldest first; `after=<seq>` keeps
    /// newer ones only, `account=<email>`, `status=<code or 2xx/4xx/5xx>` and `path=<substring>`
    /// filter them.
    @Sendable func requests(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let query = QueryParameters(request.uri)
        let limit = try Self.limit(query, default: 100)
        let filter = try RequestFilter(query)
        let entries = api.requestLog.recent(limit, where: filter.matches)
        return .json(
            .object([
                "objects": .array(
                    entries.map { e in
                        .object([
                            "seq": .int(Int64(e.seq)), "account": e.user.map(JSONValue.string) ?? .null,
                            "time": .string(e.time), "request_id": .string(e.requestID), "method": .string(e.method),
                            "path": .string(e.path), "query": .string(e.query), "status": .int(Int64(e.status)),
                            "request_bytes": e.requestBytes.map { .int(Int64($0)) } ?? .null,
                            "response_bytes": e.responseBytes.map { .int(Int64($0)) } ?? .null,
                            "duration_ms": .double((e.durationMs * 1000).rounded() / 1000),
                        ])
                    })
            ]))
    }

    /// `?limit=N`: a non-negative integer, `fallback` when absent.
    static func limit(_ query: QueryParameters, default fallback: Int) throws -> Int {
        guard let raw = query["limit"] else { return fallback }
        guard let n = Int(raw), n >= 0 else { throw CloudSigmaError.validation("limit", "limit must be a non-negative integer") }
        return n
    }

    /// `GET /_drivesd/pending`: transitions waiting for the worker or held (manual mode), soonest
    /// first; `?uuid=` for one resource's, `?limit=` (default 500).
    @Sendable func pending(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let query = QueryParameters(request.uri)
        let limit = try Self.limit(query, default: 500)
        let rows = try await api.stores.admin.pendingTransitions(resource: query["uuid"], limit: limit)
        return .json(.object(["objects": .array(rows.map(Self.json))]))
    }

    static func json(_ row: PendingTransition) -> JSONValue {
        .object([
            "resource_type": .string(row.kind), "uuid": .string(row.uuid), "owner": .string(row.owner), "name": .string(row.name),
            "operation": .string(row.operation), "from_status": .string(row.fromStatus), "held": .bool(row.held),
            "due": row.held ? .null : .string(Timestamp.string(Date(timeIntervalSince1970: row.dueAt))),
        ])
    }

    /// What the console's overview shows, also as `GET /_drivesd/overview`.
    func overview(now: Date = Date()) async throws -> Overview {
        async let stats = api.stores.admin.stats()
        async let accounts = api.stores.admin.accountSummaries()
        async let content = api.stores.content.stats()
        async let snapshots = api.stores.admin.snapshotCount()
        return Overview(
            stats: try await stats, accounts: try await accounts, content: try await content, snapshots: try await snapshots,
            minutes: api.requestLog.rates(minutes: 10, now: now), subscribers: api.events.statistics.subscribers)
    }
}

/// The console's overview: accounts, drives by status, snapshots, jobs, bytes, request rates.
struct Overview {
    var stats: StoreStats
    var accounts: [AccountSummary]
    var content: ContentStats
    var snapshots: Int
    var minutes: [RequestLog.Minute]
    var subscribers: Int

    var json: JSONValue {
        .object([
            "accounts": .array(
                accounts.map { a in
                    .object([
                        "uuid": .string(a.uuid), "email": .string(a.email), "drives": .int(Int64(a.drives)),
                        "snapshots": .int(Int64(a.snapshots)), "servers": .int(Int64(a.servers)),
                    ])
                }),
            "drives_by_status": .object(stats.drivesByStatus.mapValues { .int(Int64($0)) }),
            "snapshots": .int(Int64(snapshots)),
            "jobs_by_state": .object(stats.jobsByState.mapValues { .int(Int64($0)) }),
            "pending_transitions": .int(Int64(stats.pendingTransitions)),
            "held_transitions": .int(Int64(stats.heldTransitions)),
            "storage": AdminController.storageJSON(content),
            "event_subscribers": .int(Int64(subscribers)),
            "requests_per_minute": .array(
                minutes.map { m in
                    .object([
                        "minute": .string(Timestamp.string(Date(timeIntervalSince1970: Double(m.minute * 60)))),
                        "requests": .int(Int64(m.requests)), "client_errors": .int(Int64(m.clientErrors)),
                        "server_errors": .int(Int64(m.serverErrors)),
                    ])
                }),
        ])
    }
}

/// The filters of the request log (`/_drivesd/requests` and the console's page).
struct RequestFilter {
    var after: Int?
    var account: String?
    /// An exact code, or a class (`4` for 4xx).
    var status: Int?
    var statusClass: Int?
    var path: String?

    init(_ query: QueryParameters) throws {
        if let raw = query["after"], !raw.isEmpty {
            guard let n = Int(raw), n >= 0 else { throw CloudSigmaError.validation("after", "after must be a non-negative integer") }
            after = n
        }
        if let raw = query["account"], !raw.isEmpty { account = raw }
        if let raw = query["path"], !raw.isEmpty { path = raw }
        if let raw = query["status"]?.lowercased(), !raw.isEmpty {
            if raw.count == 3, raw.hasSuffix("xx"), let c = Int(raw.prefix(1)), (1...5).contains(c) {
                statusClass = c
            } else if let code = Int(raw), (100...599).contains(code) {
                status = code
            } else {
                throw CloudSigmaError.validation("status", "status must be a code (404) or a class (4xx)")
            }
        }
    }

    func matches(_ entry: RequestLog.Entry) -> Bool {
        if let after, entry.seq <= after { return false }
        if let account, entry.user?.lowercased() != account.lowercased() { return false }
        if let status, entry.status != status { return false }
        if let statusClass, entry.status / 100 != statusClass { return false }
        if let path, !entry.path.localizedCaseInsensitiveContains(path) { return false }
        return true
    }
}

/// Lets the admin use an account's API routes (the content protocols) under
/// `/_drivesd/accounts/{uuid or email}/`: the request runs as that account.
struct ActAsAccountMiddleware: RouterMiddleware {
    typealias Context = DrivesRequestContext
    let accounts: any AccountRepository

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let account = try context.parameters.require("account")
        guard let user = try await accounts.user(account) else {
            throw CloudSigmaError(.notexist, "No account \(account)")
        }
        var context = context
        context.user = user
        context.notes?.account.withLock { $0 = user.email }
        return try await next(request, context)
    }
}
