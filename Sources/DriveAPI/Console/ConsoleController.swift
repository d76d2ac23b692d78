import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore

/// The web console under `/_drivesd/console/`: server-rendered pages (swift-mustache templates
/// embedded in the binary) for the admin. Pages read the stores; every form posts to an action
/// that does what an admin API call does (the same store calls), then redirects back. The page
/// script only refreshes the parts of a page marked `data-live` when the admin websocket reports a
/// change (or on a timer, for progress and the request log), and uploads images in chunks through
/// the API's resumable protocol under `/_drivesd/accounts/{account}/`.
struct ConsoleController {
    let api: DrivesAPI

    var admin: AdminController { AdminController(api: api) }

    static let prefix = "/_drivesd/console"
    static let pageSize = 25

    /// The templates, parsed once. A template that does not parse is a build defect: the console
    /// test renders every page.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        let templates: [(String, [UInt8])] = [
            ("layout", PackageResources.layout_mustache), ("login", PackageResources.login_mustache),
            ("overview", PackageResources.overview_mustache), ("account", PackageResources.account_mustache),
            ("drive", PackageResources.drive_mustache), ("jobs", PackageResources.jobs_mustache),
            ("transitions", PackageResources.transitions_mustache), ("faults", PackageResources.faults_mustache),
            ("requests", PackageResources.requests_mustache), ("upload", PackageResources.upload_mustache),
            ("states", PackageResources.states_mustache),
            ("error", PackageResources.error_mustache),
        ]
        for (name, bytes) in templates {
            do {
                try library.register(String(decoding: bytes, as: UTF8.self), named: name)
            } catch {
                preconditionFailure("console template \(name) does not parse: \(error)")
            }
        }
        return library
    }()

    func register(on router: Router<DrivesRequestContext>) {
        let open = router.group("_drivesd/console")
        open.resource("static/console.css", get: { _, _ in Self.asset(PackageResources.console_css, type: "text/css; charset=utf-8") })
        open.resource("static/console.js", get: { _, _ in Self.asset(PackageResources.console_js, type: "text/javascript; charset=utf-8") })
        open.resource("login", get: loginPage, post: login)
        let console = router.group("_drivesd/console").add(middleware: ConsoleGateMiddleware(access: api.adminAccess))
        console.resource("", get: page(overview))
        console.resource("logout", post: logout)
        console.resource("accounts/:account", get: page(account))
        console.resource("accounts/:account/drives/:uuid", get: page(drive))
        console.resource("drives/:uuid", get: page(driveByUUID))
        console.resource("drives/:uuid/availability", post: action(setAvailability))
        console.resource("jobs", get: page(jobs))
        console.resource("transitions", get: page(transitions))
        console.resource("transitions/:operation", post: action(setMode))
        console.resource("advance", post: action(advance))
        console.resource("faults", get: page(faults), post: action(createFaults))
        console.resource("requests", get: page(requests))
        console.resource("upload", get: page(upload))
        console.resource("states", get: page(states), post: action(saveState))
        console.resource("states/:name/load", post: action(loadState))
        console.resource("states/:name/delete", post: action(deleteState))
    }

    // MARK: Rendering

    /// A rendered page: its template, its values, and what the layout needs.
    struct Page {
        var template: String
        var values: [String: Any]
        var nav: String
        /// Which change events refresh it: "all", "account:<uuid>", or "" (none).
        var events = ""
        /// Milliseconds between refreshes without events (0: none).
        var poll = 0
    }

    typealias PageHandler = @Sendable (Request, DrivesRequestContext) async throws -> Page
    typealias ActionHandler = @Sendable ([String: String], DrivesRequestContext) async throws -> (flash: String, location: String?)

    /// A page route: renders the page, or the error page (with the error's status) when it fails.
    func page(_ handler: @escaping PageHandler) -> Handler {
        { request, context in
            guard let grant = context.adminGrant else { throw UnauthorizedError(realm: "drivesd-admin") }
            do {
                var page = try await handler(request, context)
                if let flash = QueryParameters(request.uri)["flash"], !flash.isEmpty { page.values["flash"] = flash }
                return Self.html(Self.render(page, grant: grant, access: api.adminAccess))
            } catch let error as CloudSigmaError {
                let status = HTTPResponse.Status(code: error.status)
                let page = Page(
                    template: "error", values: ["status": "\(status.code) \(status.reasonPhrase)", "message": error.message], nav: "")
                return Self.html(Self.render(page, grant: grant, access: api.adminAccess), status: status)
            }
        }
    }

    /// A form action: the body's fields (CSRF checked), then a redirect (303) back to the page the
    /// form names in `return` (a console path), or the one the action chose, with a message.
    func action(_ handler: @escaping ActionHandler) -> Handler {
        { request, context in
            guard let grant = context.adminGrant else { throw UnauthorizedError(realm: "drivesd-admin") }
            let fields = try await Self.form(request, limit: 64 * 1024)
            guard api.adminAccess.checkCSRF(fields["csrf"] ?? request.headers[AdminAccess.csrfHeader], grant: grant) else {
                throw CloudSigmaError(.permission, "CSRF token missing or incorrect: reload the page and try again")
            }
            let fallback = Self.localPath(request.headers[.referer]) ?? Self.prefix + "/"
            do {
                let (flash, location) = try await handler(fields, context)
                let target = Self.localPath(fields["return"]) ?? location ?? fallback
                return Self.redirect(Self.adding(flash: flash, to: target))
            } catch let error as CloudSigmaError where [400, 403, 404, 409].contains(error.status) {
                // A refused action goes back to its page with the reason (and the error status
                // in the request log: the redirect says what happened).
                return Self.redirect(Self.adding(flash: "Refused: " + error.message, to: Self.localPath(fields["return"]) ?? fallback))
            }
        }
    }

    static func render(_ page: Page, grant: AdminAccess.Grant, access: AdminAccess) -> String {
        var values = page.values
        values["csrf"] = access.csrfToken(grant)
        if case .session = grant { values["session"] = true }
        if !page.nav.isEmpty { values["nav_" + page.nav] = true }
        values["events"] = page.events
        values["poll"] = page.poll > 0 ? String(page.poll) : ""
        return library.render(values, withTemplate: page.template) ?? ""
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .init("Content-Security-Policy")!: "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
                .init("X-Frame-Options")!: "DENY", .init("Referrer-Policy")!: "same-origin",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func asset(_ bytes: [UInt8], type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func redirect(_ location: String, cookie: String? = nil) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: .seeOther, headers: headers)
    }

    /// A console path (never another site: the form and the Referer are the client's).
    static func localPath(_ value: String?) -> String? {
        guard var value, !value.isEmpty else { return nil }
        if let scheme = value.range(of: "://") {
            guard let slash = value[scheme.upperBound...].firstIndex(of: "/") else { return nil }
            value = String(value[slash...])
        }
        // A header value: no control characters (a CR LF would end the Location header).
        guard value.hasPrefix(prefix), !value.contains("\\"), !value.hasPrefix("//"),
            value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
        else { return nil }
        return value
    }

    static func adding(flash: String, to path: String) -> String {
        guard !flash.isEmpty else { return path }
        var base = path
        if let hash = base.firstIndex(of: "#") { base = String(base[..<hash]) }
        // Replace an earlier message rather than stacking them.
        var parts = base.split(separator: "?", maxSplits: 1).map(String.init)
        var query = parts.count > 1 ? parts[1].split(separator: "&").filter { !$0.hasPrefix("flash=") }.map(String.init) : []
        query.append("flash=" + (flash.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
        parts = [parts[0], query.joined(separator: "&")]
        return parts.joined(separator: "?")
    }

    /// An `application/x-www-form-urlencoded` body.
    static func form(_ request: Request, limit: Int) async throws -> [String: String] {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch {
            throw CloudSigmaError(.tooLarge, "The form is larger than \(limit) bytes")
        }
        return parseForm(String(buffer: buffer))
    }

    static func parseForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            let name = decode(parts[0])
            if fields[name] == nil { fields[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return fields
    }

    // MARK: Login

    static let loginCookie = "drivesd_console_login"

    @Sendable func loginPage(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        if let grant = api.adminAccess.grant(request.headers), case .session = grant {
            return Self.redirect(Self.localPath(QueryParameters(request.uri)["next"]) ?? Self.prefix + "/")
        }
        return renderLogin(next: QueryParameters(request.uri)["next"], error: nil, status: .ok)
    }

    /// The login form carries a token that must match a cookie set with the form (a forged form
    /// from another site cannot read it): a login CSRF cannot log a browser into a session.
    func renderLogin(next: String?, error: String?, status: HTTPResponse.Status) -> Response {
        let token = AdminAccess.randomToken()
        var values: [String: Any] = ["csrf": token, "next": Self.localPath(next) ?? Self.prefix + "/"]
        if let error { values["error"] = error }
        var response = Self.html(Self.library.render(values, withTemplate: "login") ?? "", status: status)
        response.headers[.setCookie] = "\(Self.loginCookie)=\(token); Path=\(Self.prefix)/login; HttpOnly; SameSite=Strict"
        return response
    }

    @Sendable func login(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let fields = try await Self.form(request, limit: 16 * 1024)
        guard let expected = Authenticator.cookie(Self.loginCookie, in: request.headers), let sent = fields["csrf"],
            Authenticator.same(expected, sent)
        else {
            return renderLogin(next: fields["next"], error: "The form expired: log in again.", status: .forbidden)
        }
        guard
            let session = try api.adminAccess.login(
                username: fields["username"] ?? "", password: fields["password"] ?? "", address: context.clientAddress)
        else {
            return renderLogin(next: fields["next"], error: "Wrong username or password.", status: .unauthorized)
        }
        return Self.redirect(Self.localPath(fields["next"]) ?? Self.prefix + "/", cookie: AdminAccess.cookie(session.key))
    }

    @Sendable func logout(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let fields = try await Self.form(request, limit: 16 * 1024)
        guard let grant = context.adminGrant, api.adminAccess.checkCSRF(fields["csrf"], grant: grant) else {
            throw CloudSigmaError(.permission, "CSRF token missing or incorrect")
        }
        if case .session(let key, _) = grant { api.adminAccess.logout(key) }
        return Self.redirect(Self.prefix + "/login", cookie: AdminAccess.cookie(nil))
    }

    // MARK: Pages

    @Sendable func overview(_ request: Request, context: DrivesRequestContext) async throws -> Page {
        let o = try await admin.overview()
        let peak = max(1, o.minutes.map(\.requests).max() ?? 1)
        let minutes: [[String: Any]] = o.minutes.map { m in
            let errors = m.clientErrors + m.serverErrors
            return [
                "label": String(format: "%02d:%02d UTC", (m.minute / 60) % 24, m.minute % 60), "requests": m.requests,
                "client_errors": m.clientErrors, "server_errors": m.serverErrors,
                "error_rate": m.requests == 0 ? "–" : String(format: "%.1f%%", Double(errors) * 100 / Double(m.requests)),
                "width": m.requests * 100 / peak, "error_width": errors * 100 / peak,
            ]
        }
        let byStatus = o.stats.drivesByStatus.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        return Page(
            template: "overview",
            values: [
                "drives_total": o.stats.drivesByStatus.values.reduce(0, +),
                "drives_by_status": byStatus.map { ["status": $0.key, "count": $0.value] as [String: Any] },
                "snapshots": o.snapshots, "jobs_in_flight": o.stats.jobsByState["started"] ?? 0,
                "jobs_finished": (o.stats.jobsByState["success"] ?? 0) + (o.stats.jobsByState["failed"] ?? 0),
                "pending_transitions": o.stats.pendingTransitions, "held_transitions": o.stats.heldTransitions,
                "logical_bytes": Self.bytes(o.content.logicalBytes), "stored_bytes": Self.bytes(o.content.storedBytes),
                "shared_bytes": Self.bytes(o.content.sharedBytes), "database_bytes": Self.bytes(o.stats.databaseBytes),
                "minutes": minutes, "minutes_count": minutes.count,
                "accounts": o.accounts.map { a in
                    ["uuid": a.uuid, "email": a.email, "drives": a.drives, "snapshots": a.snapshots, "servers": a.servers] as [String: Any]
                },
            ],
            nav: "overview", events: "all", poll: 10_000)
    }

    func user(_ context: DrivesRequestContext) async throws -> User {
        let account = try context.parameters.require("account")
        guard let user = try await api.stores.accounts.user(account) else { throw CloudSigmaError(.notexist, "No account \(account)") }
        return user
    }

    @Sendable func account(_ request: Request, context: DrivesRequestContext) async throws -> Page {
        let user = try await user(context)
        let parameters = QueryParameters(request.uri)
        let name = parameters["name"] ?? ""
        let status = parameters["status"] ?? ""
        let tag = parameters["tag"] ?? ""
        let page = max(1, Int(parameters["page"] ?? "") ?? 1)
        var query = DriveQuery()
        if !name.isEmpty { query.nameContains = [[name]] }
        if !status.isEmpty {
            guard DriveStatus(rawValue: status) != nil else { throw CloudSigmaError.validation("status", "No drive status \(status)") }
            query.statuses = [status]
        }
        if !tag.isEmpty {
            if UUID(uuidString: tag) != nil { query.tags = [[tag]] } else { query.tagNames = [[tag]] }
        }
        query.limit = Self.pageSize
        query.offset = (page - 1) * Self.pageSize
        let (total, drives) = try await api.stores.drives.list(owner: user.uuid, query: query)
        let pageCount = max(1, (total + Self.pageSize - 1) / Self.pageSize)
        func link(_ n: Int) -> String {
            var items = [("name", name), ("status", status), ("tag", tag)].filter { !$0.1.isEmpty }
            items.append(("page", String(n)))
            let encoded = items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            return "\(Self.prefix)/accounts/\(user.uuid)?" + encoded.joined(separator: "&")
        }
        var values: [String: Any] = [
            "uuid": user.uuid, "email": user.email, "filter_name": name, "filter_tag": tag, "total": total,
            "status_options": DriveStatus.allCases.map { ["value": $0.rawValue, "selected": $0.rawValue == status] as [String: Any] },
            "drives": drives.map { d in
                [
                    "uuid": d.uuid, "owner": user.uuid, "name": d.name, "status": d.status.rawValue, "size": Self.bytes(d.size),
                    "media": d.media.rawValue, "storage_type": d.storageType, "mounts": d.mountedOn.isEmpty ? "–" : d.mountedOn.joined(separator: ", "),
                ] as [String: Any]
            },
        ]
        if pageCount > 1 { values["pages"] = ["page": page, "page_count": pageCount] }
        if page > 1 { values["previous"] = link(page - 1) }
        if page < pageCount { values["next"] = link(page + 1) }
        return Page(template: "account", values: values, nav: "overview", events: "account:" + user.uuid)
    }

    @Sendable func drive(_ request: Request, context: DrivesRequestContext) async throws -> Page {
        let user = try await user(context)
        let uuid = try context.parameters.require("uuid")
        let drive = try await api.stores.drives.drive(owner: user.uuid, uuid: uuid)
        async let content = api.stores.admin.contentMap(driveUUID: uuid)
        async let pending = api.stores.admin.pendingTransitions(resource: uuid, limit: 20)
        var snapshotQuery = SnapshotQuery()
        snapshotQuery.drives = [[uuid]]
        snapshotQuery.filters.limit = 100
        async let snapshots = api.stores.snapshots.list(owner: user.uuid, query: snapshotQuery)
        var jobs: [Job] = []
        for reference in drive.jobs {
            let jobUUID = reference.split(separator: "/").last.map(String.init) ?? reference
            if let job = try? await api.stores.jobs.job(owner: user.uuid, uuid: jobUUID) { jobs.append(job) }
        }
        let path = "\(Self.prefix)/accounts/\(user.uuid)/drives/\(uuid)"
        var fields: [(String, String)] = [
            ("uuid", drive.uuid), ("account", user.email), ("size", "\(Self.bytes(drive.size)) (\(drive.size) bytes)"),
            ("media", drive.media.rawValue), ("storage type", drive.storageType),
            ("allow multimount", drive.allowMultimount ? "yes" : "no"),
        ]
        if let iops = drive.iops { fields.append(("iops", String(iops))) }
        if !drive.affinities.isEmpty { fields.append(("affinities", drive.affinities.joined(separator: ", "))) }
        for (key, value) in drive.meta.sorted(by: { $0.key < $1.key }) { fields.append(("meta.\(key)", value)) }
        if !drive.licenses.isEmpty { fields.append(("licenses", String(drive.licenses.count))) }
        var values: [String: Any] = [
            "uuid": drive.uuid, "owner": user.uuid, "email": user.email, "name": drive.name, "status": drive.status.rawValue,
            "fields": fields.map { ["key": $0.0, "value": $0.1] as [String: Any] },
            "mounts": drive.mountedOn, "tags": drive.tags,
            "availability_action": drive.status == .unavailable ? "available" : "unavailable",
            "transitions": try await pending.map { t in
                [
                    "operation": t.operation, "from_status": t.fromStatus, "held": t.held, "uuid": t.uuid, "return": path,
                    "due": t.held ? "held (manual)" : Timestamp.string(Date(timeIntervalSince1970: t.dueAt)),
                ] as [String: Any]
            },
            "snapshots": try await snapshots.snapshots.map { s in
                ["uuid": s.uuid, "name": s.name, "status": s.status.rawValue, "timestamp": s.timestamp] as [String: Any]
            },
            "jobs": jobs.map { j in
                ["uuid": j.uuid, "operation": j.operation, "state": j.state.rawValue, "progress": j.progress] as [String: Any]
            },
        ]
        if let map = try await content {
            values["content"] =
                [
                    "image": map.image.map { String($0) } ?? "none (reads as zeros)",
                    "extents": map.extents, "extent_size": Self.bytes(map.extentSize) + " extents",
                    "stored": Self.bytes(map.storedBytes), "shared": Self.bytes(map.sharedBytes), "references": map.references,
                    "sealed": map.sealed ? "yes" : "no (upload in progress)",
                ] as [String: Any]
        }
        let running = jobs.contains { $0.state == .started }
        return Page(template: "drive", values: values, nav: "overview", events: "account:" + user.uuid, poll: running ? 1000 : 0)
    }

    /// A drive by uuid alone: redirects to its page under its account.
    @Sendable func driveByUUID(_ request: Request, context: DrivesRequestContext) async throws -> Page {
        let uuid = try context.parameters.require("uuid")
        guard let owner = try await api.stores.admin.driveOwner(uuid: uuid) else { throw CloudSigmaError.notExist(uuid) }
        throw ConsoleRedirect(location: "\(Self.prefix)/accounts/\(owner)/drives/\(uuid)")
    }

    @Sendable func jobs(_ request: Request, context: DrivesRequestContext) async throws -> Page {
        var running: [[String: Any]] = []
        var finished: [(String, [String: Any])] = []
        for account in try await api.stores.admin.accountSummaries() {
            let list = try await api.stores.jobs.list(owner: account.uuid, states: [], limit: 200, offset: 0)
            for job in list.jobs {
                let row: [String: Any] = [
                    "email": account.email, "uuid": job.uuid, "operation": job.operation, "state": job.state.rawValue,
                    "progress": job.progress, "last_modified": job.lastModified,
                    "resources": job.resources.map { $0.split(separator: "/").last.map(String.init) ?? $0 }.joined(separator: ", "),
                ]
                if job.state == .started { running.append(row) } else { finished.append((job.lastModified, row)) }
            }
        }
        return Page(
            template: "jobs", values: ["running": running, "finished": finished.sorted { $0.0 > $1.0 }.prefix(200).map(\.1)],
            nav: "jobs", events: "all", poll: running.isEmpty ? 0 : 1000)
    }

    @Sendable func transitions(_ request: Request, context: DrivesRequestContext) async throws -> Page {
        let modes = api.stores.transitions.modes
        let emails = Dictionary(try await api.stores.admin.accountSummaries().map { ($0.uuid, $0.email) }, uniquingKeysWith: { a, _ in a })
        let pending = try await api.stores.admin.pendingTransitions(resource: nil, limit: 500)
        func row(_ t: PendingTransition) -> [String: Any] {
            [
                "kind": t.kind, "uuid": t.uuid, "name": t.name, "email": emails[t.owner] ?? t.owner, "operation": t.operation,
                "from_status": t.fromStatus, "due": Timestamp.string(Date(timeIntervalSince1970: t.dueAt)),
            ]
        }
        let held = pending.filter(\.held).map(row)
        let scheduled = pending.filter { !$0.held }.map(row)
        return Page(
            template: "transitions",
            values: [
                "modes": TransitionOperation.allCases.map { op -> [String: Any] in
                    let mode = modes[op]
                    let name = mode?.name ?? "configured"
                    var values: [String: Any] = [
                        "operation": op.rawValue, "mode": name,
                        "choices": ["immediate", "time", "manual", "configured"].map { ["value": $0, "selected": $0 == name] as [String: Any] },
                    ]
                    if case .time(let seconds) = mode { values["seconds"] = Self.number(seconds) }
                    return values
                },
                "held": held, "held_count": held.count, "scheduled": scheduled, "scheduled_count": scheduled.count,
            ],
            nav: "transitions", events: "all", poll: scheduled.isEmpty ? 0 : 2000)
    }

    @Sendable func faults(_ request: Request, context: DrivesRequestContext) async throws -> Page {
        Page(template: "faults", values: ["sets": api.faults.reports().map(\.mustache)], nav: "faults", poll: 2000)
    }

    @Sendable func requests(_ request: Request, context: DrivesRequestContext) async throws -> Page {
        let query = QueryParameters(request.uri)
        let filter = try RequestFilter(query)
        let withAdmin = query["admin"] == "1"
        let entries = api.requestLog.recent(200) { entry in
            (withAdmin || !entry.path.hasPrefix("/_drivesd/")) && filter.matches(entry)
        }
        return Page(
            template: "requests",
            values: [
                "filter_account": query["account"] ?? "", "filter_status": query["status"] ?? "", "filter_path": query["path"] ?? "",
                "filter_admin": withAdmin,
                "entries": entries.reversed().map { e in
                    [
                        "time": e.time, "account": e.user ?? "–", "method": e.method, "path": e.path, "query": e.query.isEmpty ? false : e.query,
                        "status": e.status, "duration": String(format: "%.1f", e.durationMs), "request_id": e.requestID,
                        "class": e.status >= 400 ? "error-\(e.status / 100)" : "",
                    ] as [String: Any]
                },
            ],
            nav: "requests", poll: 1000)
    }

    @Sendable func upload(_ request: Request, context: DrivesRequestContext) async throws -> Page {
        let chunk = min(api.settings.uploadChunkLimit, 4 * 1024 * 1024)
        return Page(
            template: "upload",
            values: [
                "accounts": try await api.stores.accounts.listUsers().map { ["uuid": $0.uuid, "email": $0.email] as [String: Any] },
                "chunk_size": chunk, "chunk_size_text": Self.bytes(Int64(chunk)),
            ],
            nav: "upload")
    }

    // MARK: Actions (each the store call of an admin API endpoint)

    /// `PUT /_drivesd/transitions/{operation}`.
    @Sendable func setMode(_ fields: [String: String], context: DrivesRequestContext) async throws -> (flash: String, location: String?) {
        let op = try admin.operation(context)
        let seconds = fields["seconds"].flatMap { $0.isEmpty ? nil : $0 }
        let parsedSeconds: Double?
        if let seconds {
            guard let value = Double(seconds) else { throw CloudSigmaError.validation("seconds", "seconds must be a number") }
            parsedSeconds = value
        } else {
            parsedSeconds = nil
        }
        let mode = try AdminController.mode(named: fields["mode"], seconds: parsedSeconds)
        try await api.stores.transitions.setMode(op, mode)
        return ("\(op.rawValue): \(mode?.name ?? "configured")", Self.prefix + "/transitions")
    }

    /// `POST /_drivesd/advance`.
    @Sendable func advance(_ fields: [String: String], context: DrivesRequestContext) async throws -> (flash: String, location: String?) {
        let uuid = fields["uuid"].flatMap { $0.isEmpty ? nil : $0 }
        let released = try await api.stores.transitions.advance(operation: nil, uuid: uuid, now: Date())
        return ("Released \(released) transition\(released == 1 ? "" : "s")", Self.prefix + "/transitions")
    }

    /// `POST /_drivesd/faults`.
    @Sendable func createFaults(_ fields: [String: String], context: DrivesRequestContext) async throws -> (flash: String, location: String?) {
        let texts = (fields["faults"] ?? "").split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        let id = try admin.registerFaults(texts)
        return ("Fault list \(id): send X-Drivesd-Fault-Id: \(id)", Self.prefix + "/faults")
    }

    @Sendable func states(_ request: Request, context: DrivesRequestContext) async throws -> Page {
        async let states = api.stores.states.list()
        async let accounts = api.stores.accounts.listUsers()
        return Page(
            template: "states",
            values: [
                "states": try await states.map { s in
                    [
                        "name": s.name, "scope": s.account == nil ? "every account" : (s.accountEmail ?? s.account ?? ""),
                        "created": s.created, "drives": s.drives, "servers": s.servers, "snapshots": s.snapshots,
                        "logical": Self.bytes(s.logicalBytes), "stored": Self.bytes(s.storedBytes),
                    ] as [String: Any]
                },
                "accounts": try await accounts.map { ["uuid": $0.uuid, "email": $0.email] },
            ],
            nav: "states", events: "all")
    }

    /// `POST /_drivesd/states`.
    @Sendable func saveState(_ fields: [String: String], context: DrivesRequestContext) async throws -> (flash: String, location: String?) {
        let account = fields["account"].flatMap { $0.isEmpty ? nil : $0 }
        let state = try await api.stores.states.save(
            name: fields["name"] ?? "", account: account, replace: fields["replace"] == "true", now: Date())
        return ("Saved \(state.name): \(state.drives) drives, \(state.servers) servers, \(state.snapshots) snapshots", Self.prefix + "/states")
    }

    /// `POST /_drivesd/states/{name}/load`.
    @Sendable func loadState(_ fields: [String: String], context: DrivesRequestContext) async throws -> (flash: String, location: String?) {
        let name = try context.parameters.require("name")
        let result = try await admin.loadState(named: name)
        return (
            "Loaded \(name): \(result.deleted) rows deleted, \(result.updated) updated, \(result.inserted) inserted",
            Self.prefix + "/states"
        )
    }

    /// `DELETE /_drivesd/states/{name}`.
    @Sendable func deleteState(_ fields: [String: String], context: DrivesRequestContext) async throws -> (flash: String, location: String?) {
        let name = try context.parameters.require("name")
        try await admin.deleteState(named: name)
        return ("Deleted \(name)", Self.prefix + "/states")
    }

    /// `PUT /_drivesd/drives/{uuid}/availability`.
    @Sendable func setAvailability(_ fields: [String: String], context: DrivesRequestContext) async throws -> (flash: String, location: String?) {
        let uuid = try context.parameters.require("uuid")
        let status = try await admin.setAvailability(uuid: uuid, wanted: fields["status"])
        return ("Drive \(uuid) is \(status.rawValue)", Self.prefix + "/drives/\(uuid)")
    }

    // MARK: Formatting

    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(n)
        var unit = 0
        while abs(value) >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: value < 10 ? "%.2f %@" : "%.1f %@", value, units[unit])
    }

    static func number(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }
}

/// A page that answers with a redirect (a drive found by uuid alone).
struct ConsoleRedirect: Error {
    var location: String
}

/// The console's gate: the admin (Basic or a console session) passes; a browser without either
/// is sent to the login form; anything else (a user's credentials, wrong admin credentials) gets
/// 401 with the admin realm.
struct ConsoleGateMiddleware: RouterMiddleware {
    typealias Context = DrivesRequestContext
    let access: AdminAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let grant = access.grant(request.headers) else {
            if request.headers[.authorization] == nil, request.method == .get || request.method == .head, access.enabled {
                let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
                return ConsoleController.redirect(
                    "\(ConsoleController.prefix)/login?next=" + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
            }
            throw UnauthorizedError(realm: "drivesd-admin")
        }
        var context = context
        context.adminGrant = grant
        do {
            return try await next(request, context)
        } catch let redirect as ConsoleRedirect {
            return ConsoleController.redirect(redirect.location)
        }
    }
}

extension JSONValue {
    /// The value as mustache sees it: objects as dictionaries, arrays as arrays, null as "".
    var mustache: Any {
        switch self {
        case .null: ""
        case .bool(let b): b
        case .int(let i): i
        case .double(let d): d
        case .string(let s): s
        case .array(let items): items.map(\.mustache)
        case .object(let object): object.mapValues(\.mustache)
        }
    }
}
