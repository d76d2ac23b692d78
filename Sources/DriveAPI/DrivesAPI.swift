import DriveContent
import DriveLifecycle
import DriveModel
import DriveStorage
import DriveWorker
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOSSL

/// Settings of the API front end.
public struct APISettings: Sendable {
    /// Storage types offered, their size limits and the default type.
    public var catalogue: StorageCatalogue
    /// Simulated operation durations and the time scale.
    public var durations: OperationDurations
    /// Largest request body accepted, in bytes (larger: 413).
    public var bodyLimit: Int
    /// The HTTP Basic realm of the 401 challenge.
    public var realm: String
    /// How long verified credentials stay cached.
    public var credentialCacheTTL: Duration
    /// How long finished jobs are kept (reference §4: 3 days).
    public var jobRetention: Duration
    /// Simulated storage hosts (availability groups).
    public var storageHosts: Int
    /// Whether `drives` changes apply to running servers (decision 6).
    public var hotplug: Bool
    /// Credentials of the admin API (`/_drivesd/`); an empty password disables it (but for
    /// health and readiness).
    public var adminUsername: String
    public var adminPassword: String
    /// PBKDF2 rounds for accounts created through the admin API.
    public var pbkdf2Iterations: Int
    /// How many recent requests `GET /_drivesd/requests` keeps.
    public var requestLogCapacity: Int
    /// Serve `GET /_drivesd/ceiling`: a fixed 1 KiB JSON answer, the benchmark's ceiling.
    public var ceilingRoute: Bool = false
    /// The IPs and VLANs every account holds (`networking.*`); `serve` tops accounts up to them.
    public var ipsPerAccount = 1
    public var vlansPerAccount = 1
    /// How many rendered drive answers are kept until the next commit; 0: none.
    public var responseCacheEntries: Int = 20_000
    /// How many bytes of answers the response cache holds at most.
    public var responseCacheBytes: Int = 64 * 1024 * 1024
    /// Largest body of one upload chunk (resumable.js or an upload link).
    public var uploadChunkLimit: Int = 64 * 1024 * 1024
    /// Frames a websocket subscriber may have waiting; a subscriber that falls further behind is
    /// closed (1008).
    public var eventQueueLimit: Int = 1024
    /// How often idle websockets are pinged.
    public var eventPingInterval: Duration = .seconds(30)
    /// How long an HTTP connection may send nothing before it is closed: before its first
    /// request, between requests, and while a request's head or body is being read (not while
    /// its answer is written); nil: never.
    public var idleTimeout: Duration? = .seconds(60)
    /// `https` when the listener serves TLS: the scheme of the URLs `/locations/` gives.
    public var scheme: String = "http"
    /// The listener's address, for `/locations/` answers to requests without a `Host` header.
    public var listenAddress: String = "127.0.0.1:8730"
    /// Failed logins of one account from one address, within a minute, before they are refused
    /// for a back-off; 0 turns throttling off.
    public var loginThrottleBurst: Int = 20
    /// The wall clock of authentication (nonces, sessions, tokens, login back-offs); tests move
    /// their own.
    public var authClock: @Sendable () -> Date = { Date() }
    /// Writes each request's log line (at `log.level` info) in the daemon's format; nil: through
    /// the request's swift-log logger.
    public var accessLog: (@Sendable (AccessLogLine) -> Void)? = nil

    public init(
        catalogue: StorageCatalogue = StorageCatalogue(), durations: OperationDurations = OperationDurations(),
        bodyLimit: Int = 4 * 1024 * 1024, realm: String = "users", credentialCacheTTL: Duration = .seconds(300),
        jobRetention: Duration = .seconds(3 * 24 * 3600), storageHosts: Int = 4, hotplug: Bool = true,
        startSeconds: Double = 1, stopSeconds: Double = 1, adminUsername: String = "admin", adminPassword: String = "admin",
        pbkdf2Iterations: Int = 1000, requestLogCapacity: Int = 1000
    ) {
        self.adminUsername = adminUsername
        self.adminPassword = adminPassword
        self.pbkdf2Iterations = pbkdf2Iterations
        self.requestLogCapacity = requestLogCapacity
        self.jobRetention = jobRetention
        self.storageHosts = storageHosts
        self.hotplug = hotplug
        self.catalogue = catalogue
        self.durations = durations
        self.durations.startSeconds = startSeconds
        self.durations.stopSeconds = stopSeconds
        self.bodyLimit = bodyLimit
        self.realm = realm
        self.credentialCacheTTL = credentialCacheTTL
    }
}

/// Everything the HTTP front end serves from: the stores (protocols, whatever implements them),
/// the background services and the authenticator. Built by a composition root.
public struct DrivesAPI: Sendable {
    public let stores: Stores
    public let metrics = MetricsRegistry()
    public let requestLog: RequestLog
    public let faults = FaultRegistry()
    let responses: ResponseCache
    public let worker: TransitionWorker
    public let outboxRunner: OutboxRunner
    public let authenticator: Authenticator
    public let settings: APISettings
    /// Drives' bytes (uploads, downloads, removal of unreferenced content).
    public let content: ContentService
    /// Change events to websocket subscribers.
    public let events: EventHub
    /// The admin's credentials and console sessions.
    public let adminAccess: AdminAccess
    /// Open HTTP connections (websockets included).
    public let connections = ConnectionCounter()
    /// The listener's address as bound (`/locations/` answers to requests without a usable
    /// `Host`): the configured one until the socket is bound, then its real port (`--port 0`).
    public let listener: ListenerAddress

    public var drives: any DriveRepository { stores.drives }
    public var jobs: any JobRepository { stores.jobs }
    public var transitions: any TransitionRepository { stores.transitions }

    /// - Parameter effects: the handlers of after-commit effects, by effect name.
    public init(
        stores: Stores, content: ContentService, settings: APISettings, logger: Logger,
        effects: [String: OutboxRunner.Handler] = [:]
    ) {
        self.stores = stores
        self.content = content
        self.settings = settings
        self.listener = ListenerAddress(settings.listenAddress)
        self.requestLog = RequestLog(capacity: settings.requestLogCapacity)
        self.responses = ResponseCache(
            generation: stores.changes, capacity: settings.responseCacheEntries,
            maximumTotalBytes: settings.responseCacheBytes)
        var workerLogger = logger
        workerLogger[metadataKey: "subsystem"] = "worker"
        self.worker = TransitionWorker(
            transitions: stores.transitions, jobs: stores.jobs, doorbell: stores.signals.transitions,
            jobRetention: settings.jobRetention, logger: workerLogger)
        var outboxLogger = logger
        outboxLogger[metadataKey: "subsystem"] = "outbox"
        self.outboxRunner = OutboxRunner(
            outbox: stores.outbox, doorbell: stores.signals.outbox, handlers: effects, logger: outboxLogger)
        self.authenticator = Authenticator(
            accounts: stores.accounts, realm: settings.realm, ttl: settings.credentialCacheTTL,
            throttle: LoginThrottle(burst: settings.loginThrottleBurst), clock: settings.authClock)
        var eventsLogger = logger
        eventsLogger[metadataKey: "subsystem"] = "events"
        self.events = EventHub(stores: stores, logger: eventsLogger, queueLimit: settings.eventQueueLimit)
        self.adminAccess = AdminAccess(
            username: settings.adminUsername, password: settings.adminPassword, throttleBurst: settings.loginThrottleBurst)
    }

    var eventSockets: EventSockets {
        EventSockets(hub: events, authenticator: authenticator, admin: adminAccess)
    }

    /// The router of the whole API.
    public func buildRouter() -> Router<DrivesRequestContext> {
        let router = Router(context: DrivesRequestContext.self)
        router.add(
            middleware: ErrorMiddleware(realm: settings.realm, metrics: metrics, requestLog: requestLog, accessLog: settings.accessLog))
        // The OpenAPI document of this API, public like any API description.
        let openAPI = Document(OpenAPIDocument.json)
        router.get("api/2.0/openapi.json") { _, _ in openAPI.response }
        RouteRecorder.current?.prefix = "/_drivesd"
        AdminController(api: self).register(on: router)
        ConsoleController(api: self).register(on: router)
        RouteRecorder.current?.prefix = "/api/2.0"
        if settings.ceilingRoute {
            // The benchmark's ceiling: the same server and outer middleware, no auth, no store.
            let ceiling = Document(Self.ceilingDocument)
            router.get("_drivesd/ceiling") { _, _ in ceiling.response }
        }
        EventSocketRoutes(sockets: eventSockets).register(on: router)
        let faulty = router.group("api/2.0")
            .add(middleware: APIMiddleware(faults: faults, admin: stores.admin, authenticator: nil))
        AccountsController(authenticator: authenticator, accounts: stores.accounts, settings: settings).register(on: faulty)
        LocationsController(scheme: settings.scheme, listener: listener).register(on: faulty)
        let api = router.group("api/2.0")
            .add(middleware: APIMiddleware(faults: faults, admin: stores.admin, authenticator: authenticator))
        let contents = ContentController(content: content, repository: stores.content, drives: stores.drives, settings: settings)
        contents.registerLinks(on: router)
        contents.register(on: api)
        let drives = DrivesController(drives: stores.drives, responses: responses, settings: settings, content: contents)
        drives.register(on: api)
        LicensesController(licenses: stores.licenses).register(on: api)
        CapabilitiesController(catalogue: settings.catalogue, snapshots: stores.snapshots).register(on: api)
        ProfileController(accounts: stores.accounts, settings: settings).register(on: api)
        SnapshotsController(snapshots: stores.snapshots, settings: settings).register(on: api)
        JobsController(jobs: stores.jobs).register(on: api)
        ServersController(servers: stores.servers, settings: settings).register(on: api)
        TagsController(tags: stores.tags, drives: stores.drives, servers: stores.servers, networks: stores.networks, settings: settings)
            .register(on: api)
        NetworkController(networks: stores.networks, settings: settings).register(on: api)
        LibDrivesController(library: stores.library, drives: drives).register(on: api)
        return router
    }

    /// 1 KiB of JSON: a drive-like object padded to exactly 1024 bytes.
    static let ceilingDocument: JSONValue = {
        var object: [String: JSONValue] = [
            "name": .string("ceiling"), "size": .int(1_073_741_824), "status": .string("unmounted"),
            "uuid": .string("00000000-0000-4000-8000-000000000000"), "padding": .string(""),
        ]
        let base = JSONValue.object(object).jsonBytes.count
        object["padding"] = .string(String(repeating: "x", count: max(0, 1024 - base)))
        return .object(object)
    }()

    /// Every (method, path) the API router serves, in path order.
    public func routes() -> [RouteDescription] {
        let recorder = RouteRecorder()
        RouteRecorder.$current.withValue(recorder) { _ = buildRouter() }
        return recorder.routes.filter { $0.path.hasPrefix("/api/2.0/") }
    }

    /// The HTTP application, with the transition worker as a service beside it; HTTPS when `tls`
    /// is given. Once the socket is bound, ``listener`` holds its real port, then
    /// `onServerRunning` runs.
    public func buildApplication(
        host: String, port: Int, logger: Logger, tls: TLSConfiguration? = nil,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let sockets = eventSockets
        let idleTimeout = settings.idleTimeout
        let connections = self.connections
        let webSocket = WebSocketServerConfiguration(maxFrameSize: 1 << 16, autoPing: .enabled(timePeriod: settings.eventPingInterval))
        let http = HTTPServerBuilder { responder in
            DrivesdChannel(
                responder: responder, sockets: sockets, additionalChannelHandlers: { [ExpectContinueHandler()] },
                webSocket: webSocket, idleTimeout: idleTimeout, connections: connections, secure: tls != nil)
        }
        return Application(
            router: buildRouter(),
            server: try tls.map { try HTTPServerBuilder.tls(http, tlsConfiguration: $0) } ?? http,
            configuration: .init(address: .hostname(host, port: port), serverName: "drivesd"),
            services: [worker, outboxRunner, events],
            onServerRunning: { [listener] channel in
                if let port = channel.localAddress?.port { listener.bound(port: port) }
                await onServerRunning(channel)
            },
            logger: logger)
    }
}

typealias Handler = @Sendable (Request, DrivesRequestContext) async throws -> Response

/// One route the router serves: a method and a path template (`/api/2.0/drives/{uuid}/`).
public struct RouteDescription: Hashable, Sendable, Comparable {
    public var method: String
    public var path: String

    public static func < (a: RouteDescription, b: RouteDescription) -> Bool {
        (a.path, a.method) < (b.path, b.method)
    }
}

/// Collects the routes `resource(...)` registers while a router is built (see
/// ``DrivesAPI/routes()``), so that tests can hold the OpenAPI document against the router.
final class RouteRecorder: @unchecked Sendable {
    @TaskLocal static var current: RouteRecorder?
    private let lock = NSLock()
    private var recorded: Set<RouteDescription> = []
    var prefix = "/api/2.0"

    func record(_ method: String, _ path: String) {
        let template = path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
        lock.withLock { _ = recorded.insert(RouteDescription(method: method, path: "\(prefix)/\(template)/")) }
    }

    var routes: [RouteDescription] { lock.withLock { recorded.sorted() } }
}

extension RouterMethods where Context == DrivesRequestContext {
    /// Registers the handlers of one resource path; every other method answers `405` with the
    /// error array, and `OPTIONS` lists the allowed methods (reference §1.4).
    func resource(
        _ path: RouterPath, get: Handler? = nil, put: Handler? = nil, delete: Handler? = nil, post: Handler? = nil
    ) {
        var handlers: [HTTPRequest.Method: Handler] = [:]
        handlers[.get] = get
        handlers[.put] = put
        handlers[.delete] = delete
        handlers[.post] = post
        let allowed = handlers.keys.map(\.rawValue).sorted { Self.methodOrder($0) < Self.methodOrder($1) }
        if let recorder = RouteRecorder.current {
            for method in allowed { recorder.record(method, path.description) }
        }
        for (method, handler) in handlers {
            on(path, method: method) { request, context in try await handler(request, context) }
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch, .trace, .connect] where handlers[method] == nil {
            on(path, method: method) { request, _ -> Response in
                throw CloudSigmaError.methodNotAllowed(request.method.rawValue, allowed: allowed)
            }
        }
        if let get = handlers[.get] {
            // HEAD: the GET answer without its body.
            on(path, method: .head) { request, context in
                var response = try await get(request, context)
                response.body = .init()
                return response
            }
        } else {
            on(path, method: .head) { request, _ -> Response in
                throw CloudSigmaError.methodNotAllowed(request.method.rawValue, allowed: allowed)
            }
        }
        on(path, method: .options) { _, _ in
            var response = Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"])
            response.headers[.allow] = allowed.joined(separator: ", ")
            response.body = .init(byteBuffer: ByteBuffer(string: allowed.joined(separator: ",")))
            return response
        }
    }

    static func methodOrder(_ method: String) -> Int {
        ["GET", "PUT", "DELETE", "POST", "PATCH"].firstIndex(of: method) ?? 9
    }
}
