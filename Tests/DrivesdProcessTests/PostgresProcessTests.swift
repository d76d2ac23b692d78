import DriveModel
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ProcessSuites {
    /// Two drivesd processes on one PostgreSQL database and one shared data directory, as two
    /// systemd units behind a load balancer run them.
    @Suite("two drivesd processes on one PostgreSQL database", .serialized)
    struct PostgresProcessTests {
        /// Two daemons (not started) on a new database of the private cluster, sharing `data`.
        static func pair() throws -> (DaemonProcess, DaemonProcess, url: String) {
            let url = try PostgresCluster.freshDatabase()
            let data = NSTemporaryDirectory() + "drivesd-pg-data-\(UUID().uuidString)"
            let environment = ["DRIVESD_STORAGE_DATA_DIR": data]
            let one = try DaemonProcess(environment: environment)
            let two = try DaemonProcess(environment: environment)
            one.databasePathOverride = url
            two.databasePathOverride = url
            try one.addUser()
            return (one, two, url)
        }

        @Test("a write acknowledged by one is read through the other at once, bytes included; both serve every route")
        func writesAreSeenEverywhere() async throws {
            let (one, two, _) = try Self.pair()
            try await one.start(timeScale: 0)
            try await two.start(timeScale: 0)
            defer {
                _ = one.stop()
                _ = two.stop()
            }
            let created = try await one.request(
                "POST", "/api/2.0/drives/", body: #"{"objects": [{"name": "shared", "size": 1073741824, "media": "disk"}]}"#)
            #expect(created.status == 201)
            let uuid = try #require(created.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue)
            // At once, through the other process: no cache in between.
            let read = try await two.request("GET", "/api/2.0/drives/\(uuid)/")
            #expect(read.status == 200)
            #expect(read.json?["name"]?.stringValue == "shared")
            #expect(try await two.wait(uuid, for: "unmounted") == "unmounted")

            // Read (and cached, were there a cache) through the first, changed through the second.
            #expect(try await one.request("GET", "/api/2.0/drives/\(uuid)/").json?["name"]?.stringValue == "shared")
            let renamed = try await two.request("PUT", "/api/2.0/drives/\(uuid)/", body: #"{"name": "renamed", "size": 1073741824, "media": "disk"}"#)
            #expect(renamed.status == 200)
            #expect(try await one.request("GET", "/api/2.0/drives/\(uuid)/").json?["name"]?.stringValue == "renamed")

            // Bytes uploaded through one, downloaded through the other.
            let bytes = Data((0..<(3 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
            let upload = try await one.raw(
                "POST", "/api/2.0/drives/upload/", body: bytes, headers: ["Content-Type": "application/octet-stream"])
            #expect(upload.status == 200)
            let uploaded = String(decoding: upload.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await two.wait(uploaded, for: "unmounted") == "unmounted")
            let download = try await two.raw("GET", "/api/2.0/drives/\(uploaded)/download/", headers: ["Range": "bytes=0-\(bytes.count - 1)"])
            #expect(download.status == 206)
            #expect(sameBytes(download.body, bytes))

            let listed = try await two.request("GET", "/api/2.0/drives/")
            #expect(listed.json?["meta"]?["total_count"] == .int(2))
            #expect(try await two.request("DELETE", "/api/2.0/drives/\(uuid)/").status == 204)
            #expect(try await one.request("GET", "/api/2.0/drives/\(uuid)/").status == 404)
        }

        @Test("named states: saved through one, loaded through the other and the command line; kill -9 mid-load leaves the old set or the new, whole")
        func namedStates() async throws {
            let (one, two, url) = try Self.pair()
            try await one.start(timeScale: 0)
            try await two.start(timeScale: 0)
            defer {
                _ = one.stop()
                _ = two.stop()
            }
            #expect(try await one.admin("POST", "/_drivesd/states", body: #"{"name": "empty"}"#).status == 201)
            try await one.createDrives(500, prefix: "a")
            #expect(try await one.admin("POST", "/_drivesd/states", body: #"{"name": "a"}"#).status == 201)
            let a = try await two.driveNames()
            #expect(a.count == 500)
            #expect(try await two.admin("POST", "/_drivesd/states/empty/load").status == 200)
            #expect(try await one.driveNames().isEmpty)
            try await two.createDrives(700, prefix: "b")
            // The command line works on the database, beside the running daemons.
            var (code, out) = try one.run(["state", "save", "b", "--database", url])
            #expect(code == 0 && out.contains("700 drives"), "\(out)")
            let b = try await one.driveNames()
            #expect(b.count == 700 && Set(a.keys).isDisjoint(with: b.keys))
            (code, out) = try one.run(["state", "list", "--database", url])
            let names: [String] = out.split(separator: "\n").map { line in String(line.prefix { $0 != "\t" }) }
            #expect(names == ["a", "b", "empty"], "\(out)")

            // Kills land before, during and after loads: up to twice as long as one of a's takes.
            let started = ContinuousClock.now
            #expect(try await one.admin("POST", "/_drivesd/states/a/load").status == 200)
            let loadMs = UInt64((ContinuousClock.now - started).components.attoseconds / 1_000_000_000_000_000)
                + UInt64((ContinuousClock.now - started).components.seconds * 1000)
            #expect(try await one.admin("POST", "/_drivesd/states/b/load").status == 200)
            var live = b
            var generator = SystemRandomNumberGenerator()
            for cycle in 0..<6 {
                let (name, target) = live == a ? ("b", b) : ("a", a)
                let prior = live
                let load = Task { try? await one.admin("POST", "/_drivesd/states/\(name)/load") }
                try await Task.sleep(for: .milliseconds(UInt64.random(in: 0...(20 + 2 * loadMs), using: &generator)))
                one.killHard()
                _ = await load.value
                let now = try await two.driveNames()
                #expect(now == prior || now == target, "cycle \(cycle): \(now.count) drives")
                live = now == target ? target : prior
                try await one.start(timeScale: 0)
            }
            (code, out) = try one.run(["state", "load", "a", "--database", url])
            #expect(code == 0, "\(out)")
            #expect(try await two.driveNames() == a)
            #expect(try await one.driveNames() == a)
        }

        @Test("kill -9 one with transitions in flight: the other completes every one exactly once; jobs, counts and bytes are whole")
        func theSurvivorFinishesTheWork() async throws {
            let (one, two, url) = try Self.pair()
            // Creates take 1 s at time scale 2: in flight when the first process dies.
            try await one.start(timeScale: 2)
            try await two.start(timeScale: 2)
            defer { _ = two.stop() }

            let bytes = Data((0..<(2 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) })
            let upload = try await one.raw(
                "POST", "/api/2.0/drives/upload/", body: bytes, headers: ["Content-Type": "application/octet-stream"])
            #expect(upload.status == 200)
            let source = String(decoding: upload.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await one.wait(source, for: "unmounted") == "unmounted")

            // A chunked upload in flight: two of its three chunks acknowledged by the first process.
            let chunk = 1 << 20
            let image = Data((0..<(3 * chunk)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
            let started = try await one.request(
                "POST", "/api/2.0/initupload/", body: #"{"name": "chunked", "size": \#(image.count), "media": "disk"}"#)
            let chunked = try #require(started.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue)
            func sendChunk(_ daemon: DaemonProcess, _ index: Int) async throws -> Int {
                let link = try await daemon.request(
                    "POST", "/api/2.0/drives/\(chunked)/action/?do=upload_chunk",
                    body: #"{"chunk_number": \#(index), "chunk_size": \#(chunk)}"#)
                let path = try #require(link.json?["link"]?.stringValue)
                return try await daemon.raw(
                    "POST", path, body: image.subdata(in: (index * chunk)..<((index + 1) * chunk)),
                    headers: ["Content-Type": "application/octet-stream"], authenticated: false
                ).status
            }
            #expect(try await sendChunk(one, 0) == 200)
            #expect(try await sendChunk(one, 2) == 200)

            let objects = (0..<20).map { #"{"name": "bulk-\#($0)", "size": 1073741824, "media": "disk"}"# }.joined(separator: ", ")
            let bulk = try await one.request("POST", "/api/2.0/drives/", body: #"{"objects": [\#(objects)]}"#)
            #expect(bulk.status == 201)
            let created = (bulk.json?["objects"]?.arrayValue ?? []).compactMap { $0["uuid"]?.stringValue }
            #expect(created.count == 20)
            let clone = try await one.request("POST", "/api/2.0/drives/\(source)/action/?do=clone", body: #"{"name": "copy"}"#)
            #expect(clone.status == 202)
            let copy = try #require(clone.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue)
            // Acknowledged, still creating and cloning: the first process dies now.
            #expect(try await two.status(created[0]) == "creating")
            one.killHard()

            for uuid in created {
                #expect(try await two.wait(uuid, for: "unmounted", seconds: 20) == "unmounted", "\(uuid)")
            }
            #expect(try await two.wait(copy, for: "unmounted", seconds: 20) == "unmounted")
            // The upload goes on through the survivor: the acknowledged chunks are there.
            #expect(try await sendChunk(two, 1) == 200)
            #expect(try await two.wait(chunked, for: "unmounted", seconds: 20) == "unmounted")
            let whole = try await two.raw("GET", "/api/2.0/drives/\(chunked)/download/", headers: ["Range": "bytes=0-\(image.count - 1)"])
            #expect(sameBytes(whole.body, image), "every acknowledged byte, and the last chunk's")
            #expect(try await two.wait(source, for: "unmounted", seconds: 20) == "unmounted")
            let download = try await two.raw("GET", "/api/2.0/drives/\(copy)/download/", headers: ["Range": "bytes=0-\(bytes.count - 1)"])
            #expect(sameBytes(download.body, bytes), "the clone holds the source's bytes")

            // Exactly once: one finished job for the clone; the kept count is the drives' count;
            // no transition left.
            let jobs = try await two.request("GET", "/api/2.0/jobs/")
            let jobStates = (jobs.json?["objects"]?.arrayValue ?? []).compactMap { $0["state"]?.stringValue }
            #expect(jobStates == ["success"], "\(jobStates)")
            #expect(try PostgresCluster.psql(url, "SELECT count(*) FROM pending_transitions") == "0")
            #expect(try PostgresCluster.psql(url, "SELECT drives FROM owner_drive_counts") == "23")
            #expect(try PostgresCluster.psql(url, "SELECT count(*) FROM drives") == "23")
            #expect(try PostgresCluster.psql(url, "SELECT count(*) FROM drives WHERE status <> 'unmounted'") == "0")

            // verify reads the shared content map; --repair waits for no process to serve.
            let (verified, report) = try two.run(["verify", "--database", url], errors: true)
            #expect(verified == 0, "\(report)")
            #expect(report.contains(" 0 damaged, 0 unreferenced"), "\(report)")
            let (refused, why) = try two.run(["verify", "--repair", "--database", url], errors: true)
            #expect(refused != 0)
            #expect(why.contains("stop them before --repair"), "\(why)")

            // The dead process's place is taken: a third start joins the survivor.
            let three = try DaemonProcess(environment: one.environment.filter { $0.key == "DRIVESD_STORAGE_DATA_DIR" })
            three.databasePathOverride = url
            try await three.start(timeScale: 2)
            #expect(try await three.request("GET", "/api/2.0/drives/\(copy)/").json?["status"]?.stringValue == "unmounted")
            _ = three.stop()
        }
    }
}
