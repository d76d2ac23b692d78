import DriveModel
import DriveStore
import Foundation
import Testing

extension ProcessSuites {
    /// The database on a small tmpfs: a full disk and a read-only filesystem answer 5xx `backend`
    /// errors (never a crash, never corruption), and writes work again once space or write access
    /// returns. Needs root for `mount`, as CI has.
    @Suite("Resource faults", .serialized)
    struct ResourceFaultTests {
        static func run(_ arguments: [String]) throws -> Int32 {
            try ChildProcess("/bin/mount", arguments).wait()
        }

        @Test("disk full, then space again; read-only, then writable again")
        func fullAndReadOnlyDisk() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("drivesd-tmpfs-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try #require(try Self.run(["-t", "tmpfs", "-o", "size=3m", "tmpfs", dir.path]) == 0, "mount tmpfs (needs root)")
            defer {
                // The read-only bind (if a failure left it) and the tmpfs beneath it.
                for _ in 0..<2 { _ = try? ChildProcess("/bin/umount", ["-l", dir.path]).wait() }
                try? FileManager.default.removeItem(at: dir)
            }
            let daemon = try DaemonProcess()
            daemon.databasePathOverride = dir.appendingPathComponent("drivesd.sqlite").path
            try daemon.addUser()
            try await daemon.start(timeScale: 0)

            // Fill the disk with big meta values until writes fail.
            let bigMeta = String(repeating: "m", count: 20_000)
            var created = 0
            var failure: DaemonProcess.Reply?
            for i in 0..<2000 {
                let reply = try await daemon.request(
                    "POST", "/api/2.0/drives/", body: #"{"name": "f\#(i)", "size": 1073741824, "media": "disk", "meta": {"k": "\#(bigMeta)"}}"#)
                if reply.status == 201 { created += 1 } else {
                    failure = reply
                    break
                }
            }
            let full = try #require(failure, "the disk never filled")
            #expect(full.status == 500)
            #expect(full.json?.arrayValue?.first?["error_type"] == .string("backend"))
            #expect(try await daemon.request("GET", "/api/2.0/drives/?limit=0").status == 200)  // reads still work

            // Space returns.
            #expect(try Self.run(["-o", "remount,size=64m", dir.path]) == 0)
            let after = try await daemon.request("POST", "/api/2.0/drives/", body: #"{"name": "after", "size": 1073741824, "media": "disk"}"#)
            #expect(after.status == 201)
            let count = try await daemon.request("GET", "/api/2.0/drives/?limit=1").json?["meta"]?["total_count"]
            #expect(count == .int(Int64(created + 1)))

            // Read-only filesystem (a read-only bind mount over the directory; a filesystem with
            // files open for writing cannot be remounted read-only, so the daemon restarts onto it).
            #expect(daemon.stop() == 0)
            #expect(try Self.run(["--bind", dir.path, dir.path]) == 0)
            #expect(try Self.run(["-o", "remount,ro,bind", dir.path]) == 0)
            do {
                try await daemon.start(timeScale: 0)
                // It may serve reads from a read-only database; writes must fail cleanly.
                #expect(try await daemon.request("GET", "/api/2.0/drives/?limit=1").status == 200)
                let readOnly = try await daemon.request("POST", "/api/2.0/drives/", body: #"{"name": "ro", "size": 1073741824, "media": "disk"}"#)
                #expect(readOnly.status >= 500)
                #expect(readOnly.json?.arrayValue?.first?["error_type"] == .string("backend"))
                _ = daemon.stop()
            } catch {
                // Or it refuses to start, with a non-zero exit: either way, no write is acknowledged.
                #expect(daemon.exitStatusAfterFailedStart() != 0)
            }
            #expect(try ChildProcess("/bin/umount", [dir.path]).wait() == 0)
            try await daemon.start(timeScale: 0)
            let recovered = try await daemon.request("POST", "/api/2.0/drives/", body: #"{"name": "rw", "size": 1073741824, "media": "disk"}"#)
            #expect(recovered.status == 201)
            let total = try await daemon.request("GET", "/api/2.0/drives/?limit=1").json?["meta"]?["total_count"]
            #expect(total == .int(Int64(created + 2)))
            #expect(daemon.stop() == 0)
            let database = try AppDatabase.open(path: daemon.databasePath)
            #expect(try database.integrityCheck() == "ok")
            try database.close()
        }

        @Test("the data directory fills during an upload: 507 naming the cause, the ranges written kept, the upload resumes once space returns")
        func dataDirectoryFull() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("drivesd-data-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try #require(try Self.run(["-t", "tmpfs", "-o", "size=3m", "tmpfs", dir.path]) == 0, "mount tmpfs (needs root)")
            defer {
                _ = try? ChildProcess("/bin/umount", ["-l", dir.path]).wait()
                try? FileManager.default.removeItem(at: dir)
            }
            let daemon = try DaemonProcess(environment: ["DRIVESD_STORAGE_DATA_DIR": dir.path])
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            let chunk = 1 << 20
            let size = 6 * chunk
            let image = Data((0..<size).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 11) | 1 })
            let made = try await daemon.request("POST", "/api/2.0/initupload/", body: #"{"name": "big", "size": \#(size), "media": "disk"}"#)
            let uuid = try #require(made.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue)

            func send(_ index: Int) async throws -> (status: Int, body: Data) {
                let link = try await daemon.request(
                    "POST", "/api/2.0/drives/\(uuid)/action/?do=upload_chunk", body: #"{"chunk_number": \#(index), "chunk_size": \#(chunk)}"#)
                let path = try #require(link.json?["link"]?.stringValue, "link for chunk \(index): \(link.status)")
                let reply = try await daemon.raw(
                    "POST", path, body: image.subdata(in: (index * chunk)..<((index + 1) * chunk)), authenticated: false)
                return (reply.status, reply.body)
            }
            var written: [Int] = []
            var refusal: (status: Int, body: Data)?
            for index in 0..<6 {
                let reply = try await send(index)
                if reply.status == 200 { written.append(index) } else {
                    refusal = reply
                    break
                }
            }
            let full = try #require(refusal, "the data directory never filled")
            #expect(full.status == 507)
            let error = try JSONDecoder().decode(JSONValue.self, from: full.body).arrayValue?.first
            #expect(error?["error_type"] == .string("backend"))
            #expect(error?["error_message"]?.stringValue?.contains("No space left") == true)
            #expect(!written.isEmpty)
            #expect(try await daemon.status(uuid) == "uploading")
            for index in written {
                let check = try await daemon.raw(
                    "GET", "/api/2.0/drives/\(uuid)/upload/?resumableChunkNumber=\(index + 1)&resumableChunkSize=\(chunk)&resumableTotalSize=\(size)")
                #expect(check.status == 200, "chunk \(index) written before the disk filled is gone")
            }
            // A whole-image upload on the full disk: 507, and no drive is left behind.
            let single = try await daemon.raw("POST", "/api/2.0/drives/upload/", body: image)
            #expect(single.status == 507)
            #expect(try await daemon.request("GET", "/api/2.0/drives/?limit=0").json?["meta"]?["total_count"] == .int(1))

            // Space returns: the upload resumes where it stopped.
            #expect(try Self.run(["-o", "remount,size=64m", dir.path]) == 0)
            for index in 0..<6 where !written.contains(index) {
                #expect(try await send(index).status == 200)
            }
            #expect(try await daemon.status(uuid) == "unmounted")
            let download = try await daemon.raw("GET", "/api/2.0/drives/\(uuid)/download/", headers: ["Range": "bytes=0-\(size - 1)"])
            #expect(sameBytes(download.body, image))
            #expect(daemon.stop() == 0)
            let (verified, report) = try daemon.run(["verify", "--database", daemon.databasePath, "--data-dir", dir.path])
            #expect(verified == 0, "\(report)")
        }
    }
}
