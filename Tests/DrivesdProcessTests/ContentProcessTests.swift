import DriveModel
import DriveStore
import Foundation
import Synchronization
import Testing

extension ProcessSuites {
    /// Drives' bytes through the real process: kill -9 during uploads and clones, `drivesd verify`.
    @Suite("Drive content across crashes", .serialized)
    struct ContentProcessTests {
        static let chunk = 1 << 20
        static let size = 6 * chunk + 12345

        /// Deterministic, non-zero bytes of drive `n` (eight at a time, and remembered: the
        /// writers and checkers of the campaign ask for the same images again and again, and a
        /// byte at a time took most of a second a call in a debug build).
        static func image(_ n: Int) -> Data {
            if let known = images.withLock({ $0[n] }) { return known }
            var state = UInt64(n + 1) &* 0x9E37_79B9_7F4A_7C15
            var words = [UInt64](repeating: 0, count: (size + 7) / 8)
            for i in words.indices {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                words[i] = (state ^ (state >> 29)) | 0x0101_0101_0101_0101
            }
            let data = words.withUnsafeBytes { Data($0.prefix(size)) }
            images.withLock { $0[n] = data }
            return data
        }
        static let images = Mutex<[Int: Data]>([:])

        /// Chunk `index` (0-based) of an upload: the last runs to the end.
        static func range(_ index: Int) -> Range<Int> {
            let count = size / chunk
            return (index * chunk)..<(index == count - 1 ? size : (index + 1) * chunk)
        }

        /// Cycles of ``campaign()``: `DRIVESD_CONTENT_CRASH_CYCLES` (3 by default, as CI runs it;
        /// `scripts/reliability-long` runs 20).
        static var cycles: Int { Int(ProcessInfo.processInfo.environment["DRIVESD_CONTENT_CRASH_CYCLES"] ?? "") ?? 3 }

        /// What the writers were told: the campaign's expectations after each restart.
        actor Ledger {
            var acknowledged: [String: Set<Int>] = [:]
            var completed: [String: Int] = [:]  // drive → image number
            /// Deletes sent without an answer: either outcome is legal.
            var maybeDeleted: [String: Int] = [:]
            var deleted: Set<String> = []
            /// Drives with snapshots: never deleted (that would take their snapshots along).
            var sources: Set<String> = []
            var snapshots: [String: Int] = [:]  // snapshot → image number
            var maybeDeletedSnapshots: [String: Int] = [:]
            var deletedSnapshots: Set<String> = []
            var downloads = 0
            var bytesVerified = 0
            var wrong: [String] = []
            var writes = 0

            func ack(_ uuid: String, _ chunk: Int) { acknowledged[uuid, default: []].insert(chunk); writes += 1 }
            func complete(_ uuid: String, _ image: Int) { completed[uuid] = image; writes += 1 }
            func source(_ uuid: String) { sources.insert(uuid) }
            func snapshot(_ uuid: String, _ image: Int) { snapshots[uuid] = image; writes += 1 }
            func downloaded(_ uuid: String, bytes: Int, same: Bool) {
                downloads += 1
                if same { bytesVerified += bytes } else { wrong.append(uuid) }
            }
            /// A drive to delete (not a snapshot's source), moved to `maybeDeleted` until answered.
            func takeForDeletion() -> String? {
                guard let uuid = completed.keys.filter({ !sources.contains($0) }).randomElement() else { return nil }
                maybeDeleted[uuid] = completed.removeValue(forKey: uuid)
                return uuid
            }
            func deleteAnswered(_ uuid: String, status: Int) {
                guard let image = maybeDeleted.removeValue(forKey: uuid) else { return }
                if status == 204 { deleted.insert(uuid); writes += 1 } else { completed[uuid] = image }
            }
            func takeSnapshotForDeletion() -> String? {
                guard let uuid = snapshots.keys.randomElement() else { return nil }
                maybeDeletedSnapshots[uuid] = snapshots.removeValue(forKey: uuid)
                return uuid
            }
            func snapshotDeleteAnswered(_ uuid: String, status: Int) {
                guard let image = maybeDeletedSnapshots.removeValue(forKey: uuid) else { return }
                if status == 204 { deletedSnapshots.insert(uuid); writes += 1 } else { snapshots[uuid] = image }
            }
            /// After a restart: what the daemon holds settles each unanswered delete.
            func settle(drive uuid: String, present: Bool) {
                guard let image = maybeDeleted.removeValue(forKey: uuid) else { return }
                if present { completed[uuid] = image } else { deleted.insert(uuid) }
            }
            func settle(snapshot uuid: String, present: Bool) {
                guard let image = maybeDeletedSnapshots.removeValue(forKey: uuid) else { return }
                if present { snapshots[uuid] = image } else { deletedSnapshots.insert(uuid) }
            }
        }

        /// Uploads the chunks of `uuid` through upload links; records each acknowledged one.
        static func uploadChunks(
            _ daemon: DaemonProcess, _ uuid: String, image: Data, chunks: [Int], ledger: Ledger
        ) async {
            for index in chunks {
                guard
                    let link = try? await daemon.request(
                        "POST", "/api/2.0/drives/\(uuid)/action/?do=upload_chunk",
                        body: #"{"chunk_number": \#(index), "chunk_size": \#(chunk)}"#),
                    link.status == 200, let path = link.json?["link"]?.stringValue,
                    let reply = try? await daemon.raw(
                        "POST", path, body: image.subdata(in: range(index)), headers: ["Content-Type": "application/octet-stream"],
                        authenticated: false)
                else { return }
                if reply.status == 200 { await ledger.ack(uuid, index) }
            }
        }

        /// The whole drive, or nil when the request failed (the daemon was killed under it).
        static func download(_ daemon: DaemonProcess, _ uuid: String) async -> (status: Int, body: Data)? {
            guard let reply = try? await daemon.raw("GET", "/api/2.0/drives/\(uuid)/download/", headers: ["Range": "bytes=0-\(size - 1)"])
            else { return nil }
            return (reply.status, reply.body)
        }

        /// Whether the resumable test says chunk `index` of `uuid` is stored.
        static func chunkPresent(_ daemon: DaemonProcess, _ uuid: String, _ index: Int) async throws -> Bool {
            try await daemon.raw(
                "GET",
                "/api/2.0/drives/\(uuid)/upload/?resumableChunkNumber=\(index + 1)&resumableChunkSize=\(chunk)&resumableTotalSize=\(size)"
            ).status == 200
        }

        /// After-commit effects not yet carried out (`drivesd_outbox_pending`), from the metrics.
        static func outboxPending(_ daemon: DaemonProcess) async throws -> Int? {
            let admin = "Basic " + Data("admin:admin".utf8).base64EncodedString()
            let metrics = try await daemon.raw("GET", "/_drivesd/metrics", headers: ["Authorization": admin], authenticated: false)
            let text = String(decoding: metrics.body, as: UTF8.self)
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("drivesd_outbox_pending ") }) else { return nil }
            return Int(line.split(separator: " ")[1])
        }

        /// Polls a snapshot until it is `available` (or 2 s pass); its last status.
        static func availableSnapshot(_ daemon: DaemonProcess, _ uuid: String) async throws -> JSONValue? {
            var status: JSONValue?
            for _ in 0..<200 {
                status = try await daemon.request("GET", "/api/2.0/snapshots/\(uuid)/").json?["status"]
                if status == .string("available") { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            return status
        }

        /// Polls the metrics until the outbox is empty (or 15 s pass); the last count seen.
        static func drainedOutbox(_ daemon: DaemonProcess) async throws -> Int? {
            var outbox: Int?
            for _ in 0..<300 {
                outbox = try await outboxPending(daemon)
                if outbox == 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            return outbox
        }

        @Test(
            "kill -9 while writers upload (whole and chunked), download, clone, snapshot, clone snapshots and delete: every acknowledged range, upload, clone and delete survives; verify is clean"
        )
        func campaign() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            let ledger = Ledger()
            let chunks = Self.size / Self.chunk
            var pending: [(uuid: String, image: Int)] = []
            for cycle in 0..<Self.cycles {
                try await daemon.start(timeScale: 0)
                // A drive holding data (single upload): cloned, snapshotted, its snapshots cloned.
                let single = try await daemon.raw(
                    "POST", "/api/2.0/drives/upload/", body: Self.image(100 + cycle), headers: ["Content-Type": "application/octet-stream"])
                try #require(single.status == 200)
                let source = String(decoding: single.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                await ledger.complete(source, 100 + cycle)
                await ledger.source(source)
                // Chunked uploads to be in flight at the kill.
                for n in 0..<2 {
                    let drive = try await daemon.request(
                        "POST", "/api/2.0/initupload/", body: #"{"name": "up\#(cycle)-\#(n)", "size": \#(Self.size), "media": "disk"}"#)
                    pending.append((try #require(drive.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue), cycle * 10 + n))
                }
                let victims = pending
                let before = Set(await ledger.completed.keys).subtracting([source])
                let killer = Task {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 50...600)))
                    daemon.killHard()
                }
                await withTaskGroup(of: Void.self) { group in
                    for (uuid, image) in victims {
                        let data = Self.image(image)
                        let order = Array(0..<chunks).shuffled()
                        // Two writers per upload, each on half of the chunks.
                        group.addTask { await Self.uploadChunks(daemon, uuid, image: data, chunks: Array(order.prefix(3)), ledger: ledger) }
                        group.addTask { await Self.uploadChunks(daemon, uuid, image: data, chunks: Array(order.dropFirst(3)), ledger: ledger) }
                    }
                    group.addTask {  // whole-image uploads
                        for k in 0..<6 {
                            let image = 200 + cycle * 10 + k
                            guard
                                let reply = try? await daemon.raw(
                                    "POST", "/api/2.0/drives/upload/", body: Self.image(image), headers: ["Content-Type": "application/octet-stream"]),
                                reply.status == 200
                            else { return }
                            await ledger.complete(String(decoding: reply.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), image)
                        }
                    }
                    group.addTask {  // clones of a drive holding data
                        for _ in 0..<8 {
                            guard
                                let clone = try? await daemon.request("POST", "/api/2.0/drives/\(source)/action/?do=clone"),
                                clone.status == 202, let uuid = clone.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue
                            else { return }
                            await ledger.complete(uuid, 100 + cycle)
                        }
                    }
                    group.addTask {  // snapshots, their clones, and deletes of some of them
                        for _ in 0..<6 {
                            guard let made = try? await daemon.request("POST", "/api/2.0/snapshots/", body: #"{"drive": "\#(source)"}"#),
                                made.status == 201, let uuid = made.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue
                            else { return }
                            await ledger.snapshot(uuid, 100 + cycle)
                            for _ in 0..<40 {
                                guard let snap = try? await daemon.request("GET", "/api/2.0/snapshots/\(uuid)/") else { return }
                                if snap.json?["status"] == .string("available") { break }
                                try? await Task.sleep(for: .milliseconds(5))
                            }
                            guard let clone = try? await daemon.request("POST", "/api/2.0/snapshots/\(uuid)/action/?do=clone") else { return }
                            if clone.status == 202, let made = clone.json?["uuid"]?.stringValue { await ledger.complete(made, 100 + cycle) }
                            if Bool.random(), let victim = await ledger.takeSnapshotForDeletion() {
                                guard let reply = try? await daemon.request("DELETE", "/api/2.0/snapshots/\(victim)/") else { return }
                                await ledger.snapshotDeleteAnswered(victim, status: reply.status)
                            }
                        }
                    }
                    group.addTask {  // deletes of drives holding data (their space is reclaimed)
                        var done = 0
                        for _ in 0..<60 where done < 6 {
                            try? await Task.sleep(for: .milliseconds(Int.random(in: 5...30)))
                            guard let victim = await ledger.takeForDeletion() else { continue }
                            guard let reply = try? await daemon.request("DELETE", "/api/2.0/drives/\(victim)/") else { return }
                            await ledger.deleteAnswered(victim, status: reply.status)
                            if reply.status == 204 { done += 1 }
                        }
                    }
                    group.addTask {  // downloads: the right bytes or an error, never other bytes
                        for _ in 0..<12 {
                            guard let (uuid, image) = await ledger.completed.randomElement() else { return }
                            guard let reply = await Self.download(daemon, uuid) else { return }
                            if reply.status == 206 && reply.body.count == Self.size {
                                await ledger.downloaded(uuid, bytes: reply.body.count, same: sameBytes(reply.body, Self.image(image)))
                            }
                        }
                    }
                }
                _ = try? await killer.value
                daemon.killHard()

                // Restart and check what was acknowledged.
                try await daemon.start(timeScale: 0)
                let acknowledged = await ledger.acknowledged
                var still: [(String, Int)] = []
                for (uuid, image) in pending {
                    let status = try await daemon.status(uuid)
                    var present = Set<Int>()
                    for index in 0..<chunks where try await Self.chunkPresent(daemon, uuid, index) { present.insert(index) }
                    for index in acknowledged[uuid] ?? [] {
                        #expect(present.contains(index), "acknowledged chunk \(index) of \(uuid) lost (status \(status ?? "?"))")
                    }
                    // Complete exactly when every range is written: never `uploading` with all of
                    // them, never out of it with one missing.
                    #expect((status == "uploading") == (present.count < chunks), "\(uuid): \(status ?? "?") with \(present.count) of \(chunks) chunks")
                    if status == "uploading" {
                        let remaining = (0..<chunks).filter { !present.contains($0) }
                        await Self.uploadChunks(daemon, uuid, image: Self.image(image), chunks: remaining, ledger: ledger)
                    }
                    #expect(try await daemon.status(uuid) == "unmounted", "\(uuid) did not complete")
                    still.append((uuid, image))
                }
                for (uuid, image) in still { await ledger.complete(uuid, image) }
                pending = []
                for uuid in await ledger.maybeDeleted.keys {
                    await ledger.settle(drive: uuid, present: try await daemon.request("GET", "/api/2.0/drives/\(uuid)/").status != 404)
                }
                for uuid in await ledger.maybeDeletedSnapshots.keys {
                    await ledger.settle(snapshot: uuid, present: try await daemon.request("GET", "/api/2.0/snapshots/\(uuid)/").status != 404)
                }
                for uuid in await ledger.deleted {
                    #expect(try await daemon.request("GET", "/api/2.0/drives/\(uuid)/").status == 404, "deleted drive \(uuid) is back")
                }
                for uuid in await ledger.deletedSnapshots {
                    #expect(try await daemon.request("GET", "/api/2.0/snapshots/\(uuid)/").status == 404, "deleted snapshot \(uuid) is back")
                }
                for uuid in await ledger.snapshots.keys {
                    let status = try await Self.availableSnapshot(daemon, uuid)
                    #expect(status == .string("available"), "acknowledged snapshot \(uuid): \(String(describing: status))")
                }
                // Every upload, clone and snapshot clone completed in this cycle holds its bytes,
                // and a sample of the earlier ones (all of them stay covered by `verify`'s checksums).
                let completedNow = await ledger.completed
                let earlier = completedNow.filter { before.contains($0.key) }.shuffled().prefix(12)
                for (uuid, image) in completedNow.filter({ !before.contains($0.key) }) + earlier {
                    _ = try await daemon.wait(uuid, for: "unmounted")
                    let download = await Self.download(daemon, uuid)
                    #expect(download?.status == 206, "\(uuid): \(download?.status ?? 0)")
                    #expect(download.map { sameBytes($0.body, Self.image(image)) } == true, "\(uuid) does not hold image \(image)")
                    if let download { await ledger.downloaded(uuid, bytes: download.body.count, same: sameBytes(download.body, Self.image(image))) }
                }
                let wrong = await ledger.wrong
                #expect(wrong.isEmpty, "downloads answered other bytes: \(wrong)")
                // The deleted drives' files go once the outbox has run: nothing unreferenced then.
                let outbox = try await Self.drainedOutbox(daemon)
                #expect(outbox == 0, "outbox still holds \(outbox ?? -1) effects")
                #expect(daemon.stop() == 0)
                let (code, report) = try daemon.run(["verify", "--database", daemon.databasePath])
                #expect(code == 0, "\(report)")
                #expect(report.contains(" 0 damaged, 0 unreferenced"), "\(report)")
            }
            let database = try AppDatabase.open(path: daemon.databasePath)
            #expect(try database.integrityCheck() == "ok")
            try database.close()
            let figures = (await ledger.writes, await ledger.downloads, await ledger.bytesVerified, await ledger.deleted.count)
            print("content crash campaign: \(Self.cycles) cycles, \(figures.0) acknowledged writes, \(figures.1) downloads verified (\(figures.2 >> 20) MiB), \(figures.3) deletes")
        }

        @Test("verify exits 1 on a damaged content file; --repair refuses while the daemon runs")
        func verifyReportsDamage() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            let upload = try await daemon.raw(
                "POST", "/api/2.0/drives/upload/", body: Self.image(7), headers: ["Content-Type": "application/octet-stream"])
            #expect(upload.status == 200)
            let drive = String(decoding: upload.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            // Served once while intact: its extents are remembered as verified. (The drive is the
            // storage type's minimum size, zeros after the image.)
            let whole = "bytes=0-\(Self.size - 1)"
            let intact = try await daemon.raw("GET", "/api/2.0/drives/\(drive)/download/", headers: ["Range": whole])
            #expect(intact.status == 206 && sameBytes(intact.body, Self.image(7)))
            let (refused, message) = try daemon.run(["verify", "--repair", "--database", daemon.databasePath], errors: true)
            #expect(refused != 0)
            #expect(message.contains("in use"), "\(message)")
            #expect(daemon.stop() == 0)
            let (clean, _) = try daemon.run(["verify", "--database", daemon.databasePath])
            #expect(clean == 0)
            // Flip one byte of one content file.
            let data = (daemon.databasePath as NSString).deletingLastPathComponent + "/drivesd-data/images"
            let files = try #require(FileManager.default.enumerator(atPath: data)?.allObjects as? [String])
            let victim = try #require(files.sorted().last { (try? FileManager.default.attributesOfItem(atPath: data + "/" + $0)[.size] as? Int) == Self.chunk * 4 })
            func flip() throws {
                let handle = try #require(FileHandle(forUpdatingAtPath: data + "/" + victim))
                try handle.seek(toOffset: 1000)
                let byte = try #require(try handle.read(upToCount: 1)).first!
                try handle.seek(toOffset: 1000)
                try handle.write(contentsOf: Data([byte ^ 0xff]))
                try handle.close()
            }
            try flip()
            let (damaged, report) = try daemon.run(["verify", "--database", daemon.databasePath])
            #expect(damaged == 1, "\(report)")
            #expect(report.contains("DAMAGED") && report.contains("checksum"), "\(report)")

            // A download answers an error instead of the wrong bytes; the extents that are intact
            // still download. The damaged file is the first extent (4 MiB): the rest starts after it.
            try await daemon.start(timeScale: 0)
            let refusedDownload = try await daemon.raw("GET", "/api/2.0/drives/\(drive)/download/")
            #expect(refusedDownload.status == 500)
            let error = try JSONDecoder().decode(JSONValue.self, from: refusedDownload.body)
            #expect(error.arrayValue?.first?["error_type"]?.stringValue == "backend", "\(error)")
            #expect(error.arrayValue?.first?["error_message"]?.stringValue?.contains("damaged") == true, "\(error)")
            let rest = try await daemon.raw(
                "GET", "/api/2.0/drives/\(drive)/download/", headers: ["Range": "bytes=\(Self.chunk * 4)-\(Self.size - 1)"])
            #expect(rest.status == 206)
            #expect(sameBytes(rest.body, Self.image(7).dropFirst(Self.chunk * 4)))
            // Damaged while the daemon runs, after it verified the file once: found again.
            try flip()
            let repaired = try await daemon.raw("GET", "/api/2.0/drives/\(drive)/download/", headers: ["Range": whole])
            #expect(repaired.status == 206 && sameBytes(repaired.body, Self.image(7)))
            try flip()
            #expect(try await daemon.raw("GET", "/api/2.0/drives/\(drive)/download/", headers: ["Range": whole]).status == 500)

            // Written by this process and damaged before any read: the checksum drivesd recorded
            // while writing is remembered with the file's stamp then, so the damage is still found.
            let before = Set(try #require(FileManager.default.enumerator(atPath: data)?.allObjects as? [String]))
            let second = try await daemon.raw(
                "POST", "/api/2.0/drives/upload/", body: Self.image(8), headers: ["Content-Type": "application/octet-stream"])
            #expect(second.status == 200)
            let fresh = String(decoding: second.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let after = try #require(FileManager.default.enumerator(atPath: data)?.allObjects as? [String])
            let written = try #require(after.filter { !before.contains($0) }.sorted().last {
                (try? FileManager.default.attributesOfItem(atPath: data + "/" + $0)[.size] as? Int) == Self.chunk * 4
            })
            let handle = try #require(FileHandle(forUpdatingAtPath: data + "/" + written))
            try handle.seek(toOffset: 7)
            let original = try #require(try handle.read(upToCount: 1)).first!
            try handle.seek(toOffset: 7)
            try handle.write(contentsOf: Data([original ^ 0xff]))
            try handle.close()
            let unread = try await daemon.raw("GET", "/api/2.0/drives/\(fresh)/download/", headers: ["Range": whole])
            #expect(unread.status == 500)

            // Truncated behind drivesd's back: the range it held answers an error, and verify
            // names the file with its size.
            let others = after.filter { !before.contains($0) && $0 != written }.sorted()
            let shortened = try #require(others.first {  // the second extent: the image's last 2 MiB and more
                (try? FileManager.default.attributesOfItem(atPath: data + "/" + $0)[.size] as? Int) == Self.size - Self.chunk * 4
            })
            let truncated = try #require(FileHandle(forUpdatingAtPath: data + "/" + shortened))
            try truncated.truncate(atOffset: UInt64(Self.chunk))
            try truncated.close()
            #expect(shortened.hasSuffix("/1"))
            let cut = try await daemon.raw(
                "GET", "/api/2.0/drives/\(fresh)/download/", headers: ["Range": "bytes=\(Self.chunk * 4)-\(Self.size - 1)"])
            #expect(cut.status == 500, "a truncated extent answered \(cut.status)")
            #expect(daemon.stop() == 0)
            let (shortCode, shortReport) = try daemon.run(["verify", "--database", daemon.databasePath])
            #expect(shortCode == 1, "\(shortReport)")
            #expect(shortReport.contains(shortened) && shortReport.contains("bytes"), "\(shortReport)")
        }

        @Test("kill -9 while snapshots are taken and cloned: every acknowledged snapshot is there and available, every clone holds its bytes")
        func killDuringSnapshots() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            let image = Self.image(55)
            let upload = try await daemon.raw("POST", "/api/2.0/drives/upload/", body: image, headers: ["Content-Type": "application/octet-stream"])
            try #require(upload.status == 200)
            let drive = String(decoding: upload.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            actor Acks {
                var snapshots: [String] = []
                var clones: [String] = []
                func snapshot(_ uuid: String) { snapshots.append(uuid) }
                func clone(_ uuid: String) { clones.append(uuid) }
            }
            let acks = Acks()
            for _ in 0..<2 {
                let killer = Task {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 30...200)))
                    daemon.killHard()
                }
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            for _ in 0..<30 {
                                guard let made = try? await daemon.request("POST", "/api/2.0/snapshots/", body: #"{"drive": "\#(drive)"}"#),
                                    made.status == 201, let uuid = made.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue
                                else { return }
                                await acks.snapshot(uuid)
                                // Clone it once it is available (the worker's next tick).
                                for _ in 0..<20 {
                                    guard let snap = try? await daemon.request("GET", "/api/2.0/snapshots/\(uuid)/") else { return }
                                    if snap.json?["status"] == .string("available") { break }
                                    try? await Task.sleep(for: .milliseconds(5))
                                }
                                guard let clone = try? await daemon.request("POST", "/api/2.0/snapshots/\(uuid)/action/?do=clone"),
                                    clone.status == 202, let made = clone.json?["uuid"]?.stringValue
                                else { continue }
                                await acks.clone(made)
                            }
                        }
                    }
                }
                _ = try? await killer.value
                daemon.killHard()
                try await daemon.start(timeScale: 0)
                for uuid in await acks.snapshots {
                    let status = try await Self.availableSnapshot(daemon, uuid)
                    #expect(status == .string("available"), "acknowledged snapshot \(uuid): \(String(describing: status))")
                }
                for uuid in await acks.clones {
                    #expect(try await daemon.wait(uuid, for: "unmounted") == "unmounted")
                    let download = try await daemon.raw("GET", "/api/2.0/drives/\(uuid)/download/", headers: ["Range": "bytes=0-\(Self.size - 1)"])
                    #expect(sameBytes(download.body, image), "clone \(uuid) of a snapshot does not hold the drive's bytes")
                }
            }
            #expect(await acks.snapshots.count > 0)
            #expect(daemon.stop() == 0)
            let (code, report) = try daemon.run(["verify", "--database", daemon.databasePath])
            #expect(code == 0, "\(report)")
            #expect(report.contains(" 0 damaged, 0 unreferenced"), "\(report)")
        }
    }
}
