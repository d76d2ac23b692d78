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
            // Only the start may fail (a clean refusal, with a non-zero exit); once it serves, a
            // crash or a hang on the write is a failure, not another acceptable outcome.
            let log = dir.deletingLastPathComponent().appendingPathComponent("drivesd-ro-\(UUID().uuidString.prefix(8)).log").path
            defer { try? FileManager.default.removeItem(atPath: log) }
            daemon.stderrPath = log
            var served = true
            do {
                try await daemon.start(timeScale: 0)
            } catch {
                // A clean refusal: exit status 1 (not a signal) and the cause named.
                served = false
                #expect(daemon.exitStatusAfterFailedStart() == 1, "\(error)")
                let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                #expect(said.contains("readonly database"), "\(said)")
            }
            daemon.stderrPath = nil
            print("resource faults: on a read-only database drivesd \(served ? "served" : "refused to start")")
            if served {
                // It may serve reads from a read-only database; writes must fail cleanly.
                #expect(try await daemon.request("GET", "/api/2.0/drives/?limit=1").status == 200)
                let readOnly = try await daemon.request("POST", "/api/2.0/drives/", body: #"{"name": "ro", "size": 1073741824, "media": "disk"}"#)
                #expect((500..<600).contains(readOnly.status), "\(readOnly.status)")
                #expect(readOnly.json?.arrayValue?.first?["error_type"] == .string("backend"))
                #expect(try await daemon.request("GET", "/_drivesd/health").status == 200)
                #expect(daemon.isRunning, "drivesd died after the refused write")
                #expect(daemon.stop() == 0)
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
            // A drive holding data before the disk fills (cloned and snapshotted while it is full).
            let small = Data(image.prefix(300_000))
            let holderReply = try await daemon.raw("POST", "/api/2.0/drives/upload/", body: small)
            try #require(holderReply.status == 200)
            let holder = String(decoding: holderReply.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
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
            #expect(try await daemon.request("GET", "/api/2.0/drives/?limit=0").json?["meta"]?["total_count"] == .int(2))

            // Clones and snapshots share the source's extents (copy-on-write): they need no
            // space and work on the full disk, and every copy reads back the source's bytes.
            func holds(_ drive: String, _ bytes: Data) async throws -> Bool {
                _ = try await daemon.wait(drive, for: "unmounted")
                let read = try await daemon.raw("GET", "/api/2.0/drives/\(drive)/download/", headers: ["Range": "bytes=0-\(bytes.count - 1)"])
                return read.status == 206 && sameBytes(read.body, bytes)
            }
            let clone = try await daemon.request("POST", "/api/2.0/drives/\(holder)/action/?do=clone")
            #expect(clone.status == 202)
            let cloned = try #require(clone.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue)
            #expect(try await holds(cloned, small), "the clone made on a full disk lacks the source's bytes")
            let snapshot = try await daemon.request("POST", "/api/2.0/snapshots/", body: #"{"drive": "\#(holder)"}"#)
            #expect(snapshot.status == 201)
            let snap = try #require(snapshot.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue)
            #expect(try await ContentProcessTests.availableSnapshot(daemon, snap) == .string("available"))
            let fromSnapshot = try await daemon.request("POST", "/api/2.0/snapshots/\(snap)/action/?do=clone")
            #expect(fromSnapshot.status == 202)
            let snapClone = try #require(fromSnapshot.json?["uuid"]?.stringValue)
            #expect(try await holds(snapClone, small), "the snapshot's clone made on a full disk lacks the bytes")
            #expect(try await holds(cloned, small))
            #expect(try await holds(holder, small))

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

        @Test("the data directory turns read-only: uploads refused cleanly with nothing left behind, reads go on, a delete's files go once it is writable again")
        func dataDirectoryReadOnly() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("drivesd-data-ro-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try #require(try Self.run(["-t", "tmpfs", "-o", "size=64m", "tmpfs", dir.path]) == 0, "mount tmpfs (needs root)")
            defer {
                _ = try? ChildProcess("/bin/umount", ["-l", dir.path]).wait()
                try? FileManager.default.removeItem(at: dir)
            }
            defer { _ = try? ChildProcess("/bin/umount", ["-l", dir.path]).wait() }  // the bind, if a failure left it
            let daemon = try DaemonProcess(environment: ["DRIVESD_STORAGE_DATA_DIR": dir.path])
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            let image = Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) | 1 })
            func upload() async throws -> (status: Int, body: Data) {
                let reply = try await daemon.raw("POST", "/api/2.0/drives/upload/", body: image)
                return (reply.status, reply.body)
            }
            let keptReply = try await upload()
            try #require(keptReply.status == 200)
            let kept = String(decoding: keptReply.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let doomedReply = try await upload()
            try #require(doomedReply.status == 200)
            let doomed = String(decoding: doomedReply.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let pending = try await daemon.request("POST", "/api/2.0/initupload/", body: #"{"name": "later", "size": \#(image.count), "media": "disk"}"#)
            let later = try #require(pending.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue)

            // Read-only under the running daemon: a read-only bind mount over the directory (the
            // tmpfs itself cannot be remounted read-only while drivesd holds its lock file open
            // for writing; files opened from now on resolve through the bind).
            try #require(try Self.run(["--bind", dir.path, dir.path]) == 0)
            try #require(try Self.run(["-o", "remount,ro,bind", dir.path]) == 0)
            let refused = try await upload()
            let error = try? JSONDecoder().decode(JSONValue.self, from: refused.body).arrayValue?.first
            #expect(refused.status == 500, "\(refused.status): \(String(decoding: refused.body, as: UTF8.self))")
            #expect(error?["error_type"] == .string("backend"))
            #expect(error?["error_message"]?.stringValue?.contains("Read-only file system") == true, "\(String(describing: error))")
            #expect(try await daemon.request("GET", "/api/2.0/drives/?limit=0").json?["meta"]?["total_count"] == .int(3), "a refused upload left a drive")
            let chunk = try await daemon.raw(
                "POST", "/api/2.0/drives/\(later)/upload/?resumableChunkNumber=1&resumableChunkSize=\(image.count)&resumableTotalSize=\(image.count)",
                body: image)
            #expect(chunk.status == 500, "\(chunk.status)")
            #expect(try await daemon.status(later) == "uploading")
            let read = try await daemon.raw("GET", "/api/2.0/drives/\(kept)/download/", headers: ["Range": "bytes=0-\(image.count - 1)"])
            #expect(read.status == 206 && sameBytes(read.body, image), "reads stop on a read-only data directory")
            // A delete commits; its files cannot go yet, and stay queued in the outbox.
            #expect(try await daemon.request("DELETE", "/api/2.0/drives/\(doomed)/").status == 204)
            try await Task.sleep(for: .milliseconds(500))
            let held = try await ContentProcessTests.outboxPending(daemon)
            #expect((held ?? 0) > 0, "the outbox dropped an effect it could not carry out")

            // Writable again: the upload goes through, the outbox removes the deleted drive's files.
            #expect(try ChildProcess("/bin/umount", [dir.path]).wait() == 0)
            let resumed = try await daemon.raw(
                "POST", "/api/2.0/drives/\(later)/upload/?resumableChunkNumber=1&resumableChunkSize=\(image.count)&resumableTotalSize=\(image.count)",
                body: image)
            #expect(resumed.status == 200)
            #expect(try await daemon.status(later) == "unmounted")
            let outbox = try await ContentProcessTests.drainedOutbox(daemon)
            #expect(outbox == 0, "the outbox never caught up: \(outbox ?? -1)")
            #expect(daemon.stop() == 0)
            let (verified, report) = try daemon.run(["verify", "--database", daemon.databasePath, "--data-dir", dir.path])
            #expect(verified == 0, "\(report)")
            #expect(report.contains(" 0 damaged, 0 unreferenced"), "\(report)")
        }

    }
}
