import DriveLifecycle
import DriveModel
import DriveStorage
import DriveStore
import Foundation
import Testing

extension ProcessSuites {
    /// The real binary, killed and restarted: pending transitions and jobs are rows, so nothing is
    /// lost or left transient.
    @Suite("drivesd process", .serialized)
    struct ProcessRestartTests {
        /// How long the killed clone copies: far beyond a restart (well under a second here).
        static let cloneSeconds = 10.0

        @Test("kill -9 mid-clone: after a restart the clone, its source and its job all finish")
        func killedMidClone() async throws {
            let daemon = try DaemonProcess(environment: [
                "DRIVESD_DURATIONS_CREATE_SECONDS": "0",
                "DRIVESD_DURATIONS_CLONE_BASE_SECONDS": "\(Int(Self.cloneSeconds))",
                "DRIVESD_DURATIONS_CLONE_BYTES_PER_SECOND": "0",
            ])
            try daemon.addUser()
            try await daemon.start()
            let created = try await daemon.request(
                "POST", "/api/2.0/drives/", body: #"{"name": "src", "size": 1073741824, "media": "disk", "meta": {"k": "v"}}"#)
            #expect(created.status == 201)
            let source = try #require(created.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue)
            #expect(try await daemon.wait(source, for: "unmounted") == "unmounted")

            let cloneStarted = Date()
            let clone = try await daemon.request("POST", "/api/2.0/drives/\(source)/action/?do=clone", body: "{}")
            #expect(clone.status == 202)
            let cloneDrive = try #require(clone.json?["objects"]?.arrayValue?.first)
            let cloneUUID = try #require(cloneDrive["uuid"]?.stringValue)
            let job = try #require(cloneDrive["jobs"]?.arrayValue?.first?["uuid"]?.stringValue)
            #expect(try await daemon.status(source) == "cloning_src")

            daemon.killHard()

            try await daemon.start()
            // Right after the restart the clone is still copying: its due time is stored,
            // absolute, and the clone takes long enough that a restart cannot outlast it. (A
            // machine so slow that it did is a failure named as such, not a check skipped.)
            let afterRestart = try await daemon.status(cloneUUID)
            let elapsed = Date().timeIntervalSince(cloneStarted)
            try #require(elapsed < Self.cloneSeconds - 1, "the restart took \(elapsed) s: the clone's status could not be checked while copying")
            #expect(afterRestart == "cloning_dst")
            #expect(try await daemon.wait(cloneUUID, for: "unmounted", seconds: 30) == "unmounted")
            #expect(try await daemon.wait(source, for: "unmounted") == "unmounted")
            let finished = try await daemon.request("GET", "/api/2.0/jobs/\(job)/")
            #expect(finished.json?["state"] == .string("success"))
            #expect(finished.json?["data"]?["progress"] == .int(100))
            #expect(try await daemon.request("GET", "/api/2.0/drives/\(cloneUUID)/").json?["meta"]?["k"] == .string("v"))
            #expect(daemon.stop() == 0)

            let database = try AppDatabase.open(path: daemon.databasePath)
            #expect(try database.integrityCheck() == "ok")
            try database.close()
        }

        @Test("write, stop with SIGTERM, start, read: every acknowledged write is there")
        func stopStartPersistence() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            var uuids: [String] = []
            for i in 0..<20 {
                let reply = try await daemon.request(
                    "POST", "/api/2.0/drives/", body: #"{"name": "p\#(i)", "size": 1073741824, "media": "disk"}"#)
                #expect(reply.status == 201)
                uuids.append(try #require(reply.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue))
            }
            #expect(daemon.stop() == 0)
            try await daemon.start(timeScale: 0)
            let list = try await daemon.request("GET", "/api/2.0/drives/detail/?limit=0")
            let names = list.json?["objects"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            #expect(names == (0..<20).map { "p\($0)" })
            for uuid in uuids { #expect(try await daemon.wait(uuid, for: "unmounted") == "unmounted") }
            #expect(daemon.stop() == 0)

            // A clean stop leaves one self-contained file: the WAL is checkpointed and truncated, so
            // the database file alone (a copy, a backup tool's view) holds every drive.
            let wal = (try? FileManager.default.attributesOfItem(atPath: daemon.databasePath + "-wal")[.size] as? Int) ?? 0
            #expect(wal == 0)
            let alone = FileManager.default.temporaryDirectory.appendingPathComponent("drivesd-alone-\(UUID().uuidString).sqlite").path
            defer { try? FileManager.default.removeItem(atPath: alone) }
            try FileManager.default.copyItem(atPath: daemon.databasePath, toPath: alone)
            let copy = try AppDatabase.open(path: alone)
            #expect(try copy.integrityCheck() == "ok")
            let owner = try #require(try copy.users().first?.uuid)
            let (total, drives) = try await copy.stores(durations: OperationDurations()).drives.list(owner: owner, query: DriveQuery())
            #expect(total == 20)
            #expect(drives.allSatisfy { $0.status == .unmounted })
            try copy.close()
        }

        @Test("the command line: migrate, user add (duplicate refused), user list")
        func commandLine() throws {
            let daemon = try DaemonProcess()
            let (migrated, out) = try daemon.run(["migrate", "--database", daemon.databasePath])
            #expect(migrated == 0)
            #expect(out.contains("applied 0001_initial"))
            #expect(try daemon.run(["migrate", "--database", daemon.databasePath]).1.contains("no pending migrations"))
            let (added, uuid) = try daemon.run(["user", "add", "cli@example.com", "--password", "pw", "--database", daemon.databasePath])
            #expect(added == 0)
            #expect(UUID(uuidString: uuid.trimmingCharacters(in: .whitespacesAndNewlines)) != nil)
            #expect(try daemon.run(["user", "add", "cli@example.com", "--password", "pw", "--database", daemon.databasePath]).0 != 0)
            let (listed, users) = try daemon.run(["user", "list", "--database", daemon.databasePath])
            #expect(listed == 0)
            #expect(users.contains("cli@example.com"))
            #expect(try daemon.run(["serve", "--port", "99999", "--database", daemon.databasePath]).0 != 0)
        }
    }
}
