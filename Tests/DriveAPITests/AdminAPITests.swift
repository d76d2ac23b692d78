import DriveAPI
import DriveLifecycle
import DriveModel
import DriveStore
import Foundation
import HTTPTypes
import Testing

extension TestEnv {
    static let adminAuthorization = "Basic " + Data("admin:admin".utf8).base64EncodedString()

    func admin(_ method: HTTPRequest.Method, _ path: String, body: String? = nil, headers: HTTPFields = [:]) async throws -> Reply {
        var headers = headers
        headers[.authorization] = Self.adminAuthorization
        return try await request(method, "/_drivesd/\(path)", body: body, headers: headers)
    }
}

@Suite("Admin API")
struct AdminAPITests {
    @Test("health needs no credentials; ready reports the database, migrations and worker")
    func healthAndReady() async throws {
        try await withDrivesd { env in
            let health = try await env.request(.get, "/_drivesd/health", authenticated: false)
            #expect(health.code == 200)
            #expect(health.json?["status"] == .string("ok"))
            let notReady = try await env.request(.get, "/_drivesd/ready", authenticated: false)
            #expect(notReady.code == 503)
            #expect(notReady.json?["worker"] == .string("stopped"))
        }
        try await withDrivesd(runWorker: true) { env in
            var ready = try await env.request(.get, "/_drivesd/ready", authenticated: false)
            for _ in 0..<1000 where ready.code != 200 {
                try await Task.sleep(for: .milliseconds(10))
                ready = try await env.request(.get, "/_drivesd/ready", authenticated: false)
            }
            #expect(ready.code == 200)
            #expect(ready.json?["migrations"] == .string("ok"))
        }
    }

    @Test("admin routes need the admin credentials, never a user's; users' routes never take the admin's")
    func separateCredentials() async throws {
        try await withDrivesd { env in
            #expect(try await env.request(.get, "/_drivesd/metrics", authenticated: false).code == 401)
            let asUser = try await env.request(.get, "/_drivesd/metrics")
            #expect(asUser.code == 401)
            #expect(asUser.headers[.wwwAuthenticate] == #"Basic realm="drivesd-admin""#)
            #expect(try await env.admin(.get, "metrics").code == 200)
            let asAdmin = try await env.request(.get, "/api/2.0/drives/", headers: [.authorization: TestEnv.adminAuthorization])
            #expect(asAdmin.code == 401)
        }
    }

    @Test("metrics: Prometheus text with request counts, latency histograms, drives by status, transitions, jobs, size")
    func metrics() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive()
            _ = try await env.get("/api/2.0/drives/\(uuid)/")
            let reply = try await env.admin(.get, "metrics")
            #expect(reply.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = reply.text
            #expect(text.contains(#"drivesd_http_requests_total{route="/api/2.0/drives/{uuid}",method="GET",status="200"} 1"#))
            #expect(text.contains("drivesd_http_request_duration_seconds_bucket{route=\"/api/2.0/drives\",method=\"POST\",status=\"201\",le=\"+Inf\"} 1"))
            #expect(text.contains(#"drivesd_drives{status="creating"} 1"#))
            #expect(text.contains("drivesd_pending_transitions 1"))
            #expect(text.contains(#"drivesd_jobs{state="started"} 0"#))
            #expect(text.contains("drivesd_database_bytes "))
            // Every sample line parses: name{labels} value.
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                #expect(Double(line.split(separator: " ").last ?? "") != nil, "\(line)")
            }
        }
    }

    @Test("accounts: create and list without the CLI; the new account works at once")
    func accounts() async throws {
        try await withDrivesd { env in
            let created = try await env.admin(.post, "accounts", body: #"{"email": "carol@example.com", "password": "c-pass"}"#)
            #expect(created.code == 201)
            #expect(created.json?["email"] == .string("carol@example.com"))
            let carol = "Basic " + Data("carol@example.com:c-pass".utf8).base64EncodedString()
            #expect(try await env.request(.get, "/api/2.0/drives/", headers: [.authorization: carol]).code == 200)
            #expect(try await env.admin(.post, "accounts", body: #"{"email": "carol@example.com", "password": "x"}"#).code == 400)
            #expect(try await env.admin(.post, "accounts", body: #"{"email": "dave@example.com"}"#).error.point == "password")
            let list = try await env.admin(.get, "accounts")
            #expect(list.json?.arrayValue?.count == 3)
        }
    }

    @Test("reset: one account, or all; accounts stay")
    func reset() async throws {
        try await withDrivesd { env in
            _ = try await env.createDrive(name: "a")
            _ = try await env.createDrive(name: "b", as: env.bob)
            _ = try await env.createServer()
            let one = try await env.admin(.post, "reset", body: #"{"account": "alice@example.com"}"#)
            #expect(one.code == 200)
            #expect(try await env.get("/api/2.0/drives/").totalCount == 0)
            #expect(try await env.get("/api/2.0/servers/").totalCount == 0)
            #expect(try await env.get("/api/2.0/drives/", as: env.bob).totalCount == 1)
            #expect(try await env.admin(.post, "reset", body: #"{"account": "nobody@example.com"}"#).code == 404)
            #expect(try await env.admin(.post, "reset").code == 200)
            #expect(try await env.get("/api/2.0/drives/", as: env.bob).totalCount == 0)
            #expect(try await env.get("/api/2.0/drives/", as: env.bob).code == 200)
        }
    }

    @Test("transition control: manual holds a drive in creating until advance; time and immediate")
    func transitionControl() async throws {
        try await withDrivesd(settings: APISettings(durations: OperationDurations(timeScale: 1))) { env in
            #expect(try await env.admin(.put, "transitions/create", body: #"{"mode": "manual"}"#).code == 200)
            #expect(try await env.admin(.get, "transitions/create").json?["mode"] == .string("manual"))
            let held = try await env.createDrive(name: "held")
            try await env.api.worker.tick(now: Date().addingTimeInterval(86400 * 365))
            #expect(try await env.status(held) == "creating")
            let other = try await env.createDrive(name: "other")
            let one = try await env.admin(.post, "advance", body: #"{"uuid": "\#(held)"}"#)
            #expect(one.json?["released"] == .int(1))
            try await env.tick()
            #expect(try await env.status(held) == "unmounted")
            #expect(try await env.status(other) == "creating")
            #expect(try await env.admin(.post, "advance", body: #"{"operation": "create"}"#).json?["released"] == .int(1))
            try await env.tick()
            #expect(try await env.status(other) == "unmounted")

            // Immediate: the resize completes on the worker's next tick, not after the configured
            // 2 seconds (the tick runs now).
            let immediate = try await env.admin(.put, "transitions/resize", body: #"{"mode": "immediate"}"#)
            #expect(immediate.code == 200)
            #expect(immediate.json?["mode"] == .string("immediate"))
            #expect(try await env.admin(.get, "transitions/resize").json?["mode"] == .string("immediate"))
            let resize = try await env.request(.put, "/api/2.0/drives/\(held)/", body: #"{"name": "held", "size": 2147483648, "media": "disk"}"#)
            #expect(resize.code == 200)
            #expect(resize.json?["status"] == .string("resizing"))
            #expect(resize.json?["size"] == .int(1_073_741_824))
            try await env.tick()
            let resized = try await env.get("/api/2.0/drives/\(held)/").json
            #expect(resized?["status"] == .string("unmounted"))
            #expect(resized?["size"] == .int(2_147_483_648))

            let timed = try await env.admin(.put, "transitions/clone", body: #"{"mode": "time", "seconds": 30}"#)
            #expect(timed.code == 200)
            #expect(timed.json?["mode"] == .string("time"))
            let clone = try await env.request(.post, "/api/2.0/drives/\(held)/action/?do=clone")
            let cloneUUID = try #require(clone.first?["uuid"]?.stringValue)
            try await env.api.worker.tick(now: Date().addingTimeInterval(20))
            #expect(try await env.status(cloneUUID) == "cloning_dst")
            try await env.api.worker.tick(now: Date().addingTimeInterval(31))
            #expect(try await env.status(cloneUUID) == "unmounted")

            _ = try await env.admin(.put, "transitions/start", body: #"{"mode": "manual"}"#)
            let server = try await env.createServer()
            _ = try await env.request(.post, "/api/2.0/servers/\(server)/action/?do=start")
            try await env.tick()
            #expect(try await env.get("/api/2.0/servers/\(server)/").json?["status"] == .string("starting"))
            #expect(try await env.admin(.post, "advance", body: #"{"operation": "start"}"#).json?["released"] == .int(1))
            try await env.tick()
            #expect(try await env.get("/api/2.0/servers/\(server)/").json?["status"] == .string("running"))

            #expect(try await env.admin(.put, "transitions/create", body: #"{"mode": "configured"}"#).code == 200)
            #expect(try await env.admin(.put, "transitions/create", body: #"{"mode": "sometimes"}"#).code == 400)
            #expect(try await env.admin(.put, "transitions/time", body: #"{"mode": "time"}"#).code == 404)
            #expect(try await env.admin(.put, "transitions/resize", body: #"{"mode": "time"}"#).error.point == "seconds")
        }
    }

    @Test("the transition modes are kept across restarts")
    func modesPersist() async throws {
        let path = TestDatabase.temporaryPath()
        defer { TestDatabase.remove(path) }
        try await withDrivesd(path: path) { env in
            _ = try await env.admin(.put, "transitions/clone", body: #"{"mode": "time", "seconds": 7}"#)
        }
        try await withDrivesd(path: path) { env in
            let mode = try await env.admin(.get, "transitions").json?["clone"]
            #expect(mode?["mode"] == .string("time"))
            #expect(mode?["seconds"] == .int(7) || mode?["seconds"] == .double(7))
        }
    }

    @Test("faults scoped by X-Drivesd-Fault-Id are consumed in order and reported")
    func faults() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive()
            try await env.tick()
            let registered = try await env.admin(
                .post, "faults", body: #"{"faults": ["return-503", "delay-0.1s", "set-status:unavailable", "return-500"]}"#)
            #expect(registered.code == 201)
            let id = try #require(registered.json?["id"]?.stringValue)
            let header: HTTPFields = [HTTPField.Name("X-Drivesd-Fault-Id")!: id]
            let path = "/api/2.0/drives/\(uuid)/"
            let first = try await env.request(.get, path, headers: header)
            #expect(first.code == 503)
            #expect(first.error.type == "concurrency")
            #expect(first.headers[.retryAfter] == "1")
            let start = Date()
            #expect(try await env.request(.get, path, headers: header).code == 200)
            #expect(Date().timeIntervalSince(start) >= 0.1)
            let third = try await env.request(.get, path, headers: header)
            #expect(third.json?["status"] == .string("unavailable"))
            let resize = try await env.request(
                .post, "/api/2.0/drives/\(uuid)/action/?do=resize", body: #"{"name": "d", "size": 2147483648, "media": "disk"}"#)
            #expect(resize.code == 403)
            #expect(try await env.request(.get, path, headers: header).code == 500)
            #expect(try await env.request(.get, path, headers: header).code == 200)  // all consumed
            #expect(try await env.get(path).code == 200)  // no header, no fault
            let report = try await env.admin(.get, "faults/\(id)")
            #expect(report.json?["remaining"] == .int(0))
            let reported = try #require(report.json?["faults"]?.arrayValue)
            try #require(reported.count == 4, "\(reported)")
            #expect(reported.allSatisfy { $0["fired"] == .bool(true) })
            #expect(try await env.admin(.get, "faults/\(UUID().uuidString)").code == 404)
            #expect(try await env.admin(.post, "faults", body: #"{"faults": ["explode"]}"#).code == 400)
            // The admin path brings the storage host back.
            let back = try await env.admin(.put, "drives/\(uuid)/availability", body: #"{"status": "available"}"#)
            #expect(back.json?["status"] == .string("unmounted"))
        }
    }

    @Test("the request log lists recent requests with method, path, status and sizes")
    func requestLog() async throws {
        try await withDrivesd { env in
            let before = Date()
            _ = try await env.createDrive(name: "logged")
            _ = try await env.get("/api/2.0/drives/?limit=5")
            _ = try await env.get("/api/2.0/nothing/")
            let log = try await env.admin(.get, "requests?limit=3")
            let entries = try #require(log.json?["objects"]?.arrayValue)
            #expect(entries.count == 3)
            #expect(entries[0]["method"] == .string("POST"))
            #expect(entries[0]["status"] == .int(201))
            if case .int(let n)? = entries[0]["request_bytes"] { #expect(n > 0) } else { Issue.record("no request size") }
            #expect(entries[1]["query"] == .string("limit=5"))
            #expect(entries[2]["status"] == .int(404))
            #expect(entries.allSatisfy { $0["request_id"]?.stringValue?.isEmpty == false })
            // Each entry's time is when it was answered, written as the API writes times.
            let times = entries.compactMap { $0["time"]?.stringValue }
            #expect(times.count == 3)
            #expect(times == times.sorted(), "\(times)")
            let earliest = Timestamp.string(before.addingTimeInterval(-1))
            let latest = Timestamp.string(Date().addingTimeInterval(1))
            #expect(times.allSatisfy { $0.count == earliest.count && $0 >= earliest && $0 <= latest }, "\(times)")
        }
    }
}

@Suite("Access log line")
struct AccessLogLineTests {
    @Test("durations are milliseconds with three decimals")
    func durations() {
        func line(_ us: Int) -> AccessLogLine {
            AccessLogLine(method: "GET", path: "/", status: 200, requestID: "r", microseconds: us)
        }
        #expect(line(0).durationMilliseconds == "0.000")
        #expect(line(5).durationMilliseconds == "0.005")
        #expect(line(1234).durationMilliseconds == "1.234")
        #expect(line(120_050).durationMilliseconds == "120.050")
    }
}
