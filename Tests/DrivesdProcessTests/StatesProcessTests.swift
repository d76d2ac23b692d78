import DriveModel
import Foundation
import Testing


extension DaemonProcess {
    /// A request to the admin API with the default admin credentials.
    func admin(_ method: String, _ path: String, body: String? = nil) async throws -> Reply {
        try await request(method, path, body: body, credentials: "admin:admin", timeout: 30)
    }

    /// The uuids and names of the account's drives.
    func driveNames() async throws -> [String: String] {
        let reply = try await request("GET", "/api/2.0/drives/?limit=0&fields=uuid,name")
        guard reply.status == 200 else { throw TestFailure("list answered \(reply.status)") }
        var out: [String: String] = [:]
        for drive in reply.json?["objects"]?.arrayValue ?? [] {
            if let uuid = drive["uuid"]?.stringValue { out[uuid] = drive["name"]?.stringValue ?? "" }
        }
        return out
    }

    /// Creates `count` drives named `prefix-N`, 500 a request.
    func createDrives(_ count: Int, prefix: String) async throws {
        var made = 0
        while made < count {
            let batch = min(500, count - made)
            let objects = (made..<(made + batch)).map { #"{"name": "\#(prefix)-\#($0)", "size": 1073741824, "media": "disk"}"# }
            let reply = try await request("POST", "/api/2.0/drives/", body: #"{"objects": [\#(objects.joined(separator: ","))]}"#)
            guard reply.status == 201 else { throw TestFailure("bulk create answered \(reply.status)") }
            made += batch
        }
    }
}

extension ProcessSuites {
    /// Named states in the real binary: kill -9 while they are saved and loaded, the command line
    /// in both of its modes, restarts and backups.
    @Suite("Named states, processes", .serialized)
    struct StatesProcessTests {
        static func int(_ value: JSONValue) -> Int64? {
            if case .int(let n) = value { return n }
            return nil
        }

        @Test("kill -9 during saves and loads: after a restart the live drives are the old set or the loaded one, whole; a state exists whole or not at all")
        func killedDuringLoads() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            // Two sets with no drive in common, so that a load both deletes and inserts.
            #expect(try await daemon.admin("POST", "/_drivesd/states", body: #"{"name": "empty"}"#).status == 201)
            try await daemon.createDrives(1000, prefix: "small")
            #expect(try await daemon.admin("POST", "/_drivesd/states", body: #"{"name": "small"}"#).status == 201)
            let small = try await daemon.driveNames()
            #expect(try await daemon.admin("POST", "/_drivesd/states/empty/load").status == 200)
            try await daemon.createDrives(1500, prefix: "big")
            #expect(try await daemon.admin("POST", "/_drivesd/states", body: #"{"name": "big"}"#).status == 201)
            let big = try await daemon.driveNames()
            try #require(small.count == 1000 && big.count == 1500 && Set(small.keys).isDisjoint(with: big.keys))
            // Kills land before, during and after loads: up to twice as long as one takes.
            let timed = try await daemon.admin("POST", "/_drivesd/states/big/load")
            let loadMs = timed.json?["duration_ms"].flatMap { value -> Double? in
                switch value {
                case .double(let d): d
                case .int(let n): Double(n)
                default: nil
                }
            } ?? 50
            var live = big
            var outcomes: [String] = []
            var generator = SystemRandomNumberGenerator()
            for cycle in 0..<6 {
                let (targetName, target) = live == big ? ("small", small) : ("big", big)
                let prior = live
                let delay = UInt64.random(in: 0...UInt64(20 + 2 * loadMs), using: &generator)
                let load = Task { try? await daemon.admin("POST", "/_drivesd/states/\(targetName)/load") }
                let save = Task { try? await daemon.admin("POST", "/_drivesd/states", body: #"{"name": "during-\#(cycle)"}"#) }
                try await Task.sleep(for: .milliseconds(delay))
                daemon.killHard()
                _ = await load.value
                _ = await save.value
                try await daemon.start(timeScale: 0)
                let now = try await daemon.driveNames()
                #expect(now == prior || now == target, "cycle \(cycle): \(now.count) drives, neither \(prior.count) nor \(target.count) whole")
                outcomes.append(now == target ? "loaded" : "old")
                live = now == target ? target : prior
                // The state saved meanwhile is whole or absent: its count is one of the two sets'.
                let saved = try await daemon.admin("GET", "/_drivesd/states/during-\(cycle)")
                if saved.status == 200 {
                    let drives = saved.json?["drives"].flatMap(Self.int) ?? -1
                    #expect(drives == Int64(prior.count) || drives == Int64(target.count), "cycle \(cycle): state with \(drives) drives")
                } else {
                    #expect(saved.status == 404)
                }
                // The saved states are untouched by the kills.
                let states = try await daemon.admin("GET", "/_drivesd/states")
                let counts = Dictionary(
                    uniqueKeysWithValues: (states.json?["objects"]?.arrayValue ?? []).compactMap { s in
                        s["name"]?.stringValue.map { ($0, s["drives"].flatMap(Self.int) ?? -1) }
                    })
                #expect(counts["small"] == 1000 && counts["big"] == 1500)
            }
            // Loading still works after the kills, whatever was live.
            #expect(try await daemon.admin("POST", "/_drivesd/states/small/load").status == 200)
            #expect(try await daemon.driveNames() == small)
            print("states kill -9 outcomes (a load takes \(loadMs) ms): \(outcomes.joined(separator: ", "))")
            #expect(daemon.stop() == 0)
        }

        @Test("drivesd state: through the running daemon's admin API, on the files when it is stopped; states survive restarts and drivesd backup")
        func commandLine() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            try await daemon.createDrives(3, prefix: "cli")
            let saved = try await daemon.driveNames()
            let db = ["--database", daemon.databasePath]
            let url = ["--url", "http://127.0.0.1:\(daemon.port)"]
            var (code, out) = try daemon.run(["state", "save", "base"] + db + url)
            #expect(code == 0, "\(out)")
            #expect(out.hasPrefix("saved base (every account, 3 drives"), "\(out)")
            // The daemon holds the data directory: without --url the command goes to the
            // configured port, where nothing listens here.
            (code, out) = try daemon.run(["state", "list"] + db, errors: true)
            #expect(code == 1 && out.contains("admin API at http://127.0.0.1:8730 cannot be reached"), "\(out)")
            // A delete, then a load through the admin API: the daemon answers the loaded state at
            // once (its response cache saw the load).
            let victim = try #require(saved.keys.sorted().first)
            #expect(try await daemon.request("GET", "/api/2.0/drives/\(victim)/").status == 200)
            #expect(try await daemon.request("DELETE", "/api/2.0/drives/\(victim)/").status == 204)
            #expect(try await daemon.request("GET", "/api/2.0/drives/\(victim)/").status == 404)
            (code, out) = try daemon.run(["state", "load", "base"] + db + url)
            #expect(code == 0 && out.contains("loaded base") && out.contains("1 inserted"), "\(out)")
            #expect(try await daemon.request("GET", "/api/2.0/drives/\(victim)/").status == 200)
            (code, out) = try daemon.run(["state", "save", "base"] + db + url, errors: true)
            #expect(code == 1 && out.contains("A state named base exists"), "\(out)")

            // A backup of the running daemon carries the states.
            let backup = (daemon.databasePath as NSString).deletingLastPathComponent + "/backup"
            (code, out) = try daemon.run(["backup", backup] + db)
            #expect(code == 0, "\(out)")
            (code, out) = try daemon.run(["state", "list", "--database", backup + "/drivesd.sqlite", "--data-dir", backup + "/data"])
            #expect(code == 0 && out.hasPrefix("base\tall\t"), "\(out)")

            // Stopped: the command works on the files.
            #expect(daemon.stop() == 0)
            (code, out) = try daemon.run(["state", "save", "offline", "--account", daemon.email] + db)
            #expect(code == 0 && out.contains("account \(daemon.email), 3 drives"), "\(out)")
            (code, out) = try daemon.run(["state", "list"] + db)
            let lines = out.split(separator: "\n").map { $0.split(separator: "\t").prefix(2).joined(separator: " ") }
            #expect(lines == ["base all", "offline \(daemon.email)"], "\(out)")
            (code, out) = try daemon.run(["state", "delete", "base"] + db)
            #expect(code == 0 && out == "deleted base\n", "\(out)")
            (code, out) = try daemon.run(["state", "delete", "base"] + db, errors: true)
            #expect(code == 1 && out.contains("no state named base"), "\(out)")
            (code, out) = try daemon.run(["state", "save", "bad/name"] + db, errors: true)
            #expect(code == 1 && out.contains("A state's name is 1 to 100 letters"), "\(out)")

            // And the states survive the restart.
            try await daemon.start(timeScale: 0)
            let states = try await daemon.admin("GET", "/_drivesd/states")
            #expect(states.json?["objects"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["offline"])
            #expect(try await daemon.admin("POST", "/_drivesd/states/offline/load").status == 200)
            #expect(try await daemon.driveNames() == saved)
            #expect(daemon.stop() == 0)
        }
    }
}
