import DriveModel
import DriveStore
import Foundation
import Testing

extension ProcessSuites {
    /// Drives' bytes through the real process: kill -9 during uploads and clones, `drivesd verify`.
    @Suite("Drive content across crashes", .serialized)
    struct ContentProcessTests {
        static let chunk = 1 << 20
        static let size = 6 * chunk + 12345

        /// Deterministic, non-zero bytes of drive `n`.
        static func image(_ n: Int) -> Data {
            var state = UInt64(n + 1) &* 0x9E37_79B9_7F4A_7C15
            return Data((0..<size).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 33) | 1
            })
        }

        /// Chunk `index` (0-based) of an upload: the last runs to the end.
        static func range(_ index: Int) -> Range<Int> {
            let count = size / chunk
            return (index * chunk)..<(index == count - 1 ? size : (index + 1) * chunk)
        }

        actor Ledger {
            var acknowledged: [String: Set<Int>] = [:]
            var completed: [String: Int] = [:]  // drive → image number
            func ack(_ uuid: String, _ chunk: Int) { acknowledged[uuid, default: []].insert(chunk) }
            func complete(_ uuid: String, _ image: Int) { completed[uuid] = image }
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

        @Test("kill -9 during chunked uploads and clones: every acknowledged range and completed drive reads back; verify is clean")
        func killDuringUploads() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            let ledger = Ledger()
            var pending: [(uuid: String, image: Int)] = []
            for cycle in 0..<3 {
                try await daemon.start(timeScale: 0)
                // A completed drive (single upload) and its clones, and chunked uploads in flight.
                let single = try await daemon.raw(
                    "POST", "/api/2.0/drives/upload/", body: Self.image(100 + cycle), headers: ["Content-Type": "application/octet-stream"])
                try #require(single.status == 200)
                let source = String(decoding: single.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                await ledger.complete(source, 100 + cycle)
                for n in 0..<2 {
                    let drive = try await daemon.request(
                        "POST", "/api/2.0/initupload/", body: #"{"name": "up\#(cycle)-\#(n)", "size": \#(Self.size), "media": "disk"}"#)
                    pending.append((try #require(drive.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue), cycle * 10 + n))
                }
                let victims = pending
                let killer = Task {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 40...250)))
                    daemon.killHard()
                }
                await withTaskGroup(of: Void.self) { group in
                    for (uuid, image) in victims {
                        let data = Self.image(image)
                        let order = Array(0..<(Self.size / Self.chunk)).shuffled()
                        // Two writers per upload, each on half of the chunks.
                        group.addTask { await Self.uploadChunks(daemon, uuid, image: data, chunks: Array(order.prefix(3)), ledger: ledger) }
                        group.addTask { await Self.uploadChunks(daemon, uuid, image: data, chunks: Array(order.dropFirst(3)), ledger: ledger) }
                    }
                    group.addTask {
                        for _ in 0..<4 {
                            guard
                                let clone = try? await daemon.request("POST", "/api/2.0/drives/\(source)/action/?do=clone"),
                                clone.status == 202, let uuid = clone.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue
                            else { return }
                            await ledger.complete(uuid, 100 + cycle)
                        }
                    }
                }
                _ = try? await killer.value
                daemon.killHard()

                // Restart: acknowledged chunks are there (the resumable test says so), the rest is
                // uploaded now, and every completed drive holds its bytes.
                try await daemon.start(timeScale: 0)
                let acknowledged = await ledger.acknowledged
                var still: [(String, Int)] = []
                for (uuid, image) in pending {
                    let status = try await daemon.status(uuid)
                    for index in acknowledged[uuid] ?? [] {
                        let check = try await daemon.raw(
                            "GET",
                            "/api/2.0/drives/\(uuid)/upload/?resumableChunkNumber=\(index + 1)&resumableChunkSize=\(Self.chunk)&resumableTotalSize=\(Self.size)"
                        )
                        #expect(check.status == 200, "acknowledged chunk \(index) of \(uuid) lost (status \(status ?? "?"))")
                    }
                    if status == "uploading" {
                        let remaining = (0..<(Self.size / Self.chunk)).filter { !(acknowledged[uuid] ?? []).contains($0) }
                        await Self.uploadChunks(daemon, uuid, image: Self.image(image), chunks: remaining, ledger: ledger)
                    }
                    #expect(try await daemon.status(uuid) == "unmounted", "\(uuid) did not complete")
                    still.append((uuid, image))
                }
                for (uuid, image) in still { await ledger.complete(uuid, image) }
                pending = []
                for (uuid, image) in await ledger.completed {
                    _ = try await daemon.wait(uuid, for: "unmounted")
                    let download = try await daemon.raw(
                        "GET", "/api/2.0/drives/\(uuid)/download/", headers: ["Range": "bytes=0-\(Self.size - 1)"])
                    #expect(download.status == 206, "\(uuid): \(download.status)")
                    #expect(sameBytes(download.body, Self.image(image)), "\(uuid) does not hold image \(image)")
                }
                #expect(daemon.stop() == 0)
                let (code, report) = try daemon.run(["verify", "--database", daemon.databasePath])
                #expect(code == 0, "\(report)")
                #expect(report.contains(" 0 damaged, 0 unreferenced"), "\(report)")
            }
            let database = try AppDatabase.open(path: daemon.databasePath)
            #expect(try database.integrityCheck() == "ok")
            try database.close()
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
            #expect(daemon.stop() == 0)
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
                    var status: JSONValue?
                    for _ in 0..<200 {
                        status = try await daemon.request("GET", "/api/2.0/snapshots/\(uuid)/").json?["status"]
                        if status == .string("available") { break }
                        try await Task.sleep(for: .milliseconds(10))
                    }
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
