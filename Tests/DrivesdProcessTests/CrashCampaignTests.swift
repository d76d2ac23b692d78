import DriveModel
import DriveStore
import Foundation
import Testing

extension ProcessSuites {
    /// The durability campaign: writers over many connections, SIGKILL at random moments, restart,
    /// verify. `DRIVESD_CRASH_CYCLES` sets the number of cycles (3 by default, as CI runs it; the
    /// long campaign in the README runs 50).
    @Suite("Crash campaign", .serialized)
    struct CrashCampaignTests {
        /// What a writer knows about one of its drives.
        struct Known {
            var name: String
            var meta: String
            var size: Int64
            var deleted = false
            /// An operation was in flight when the daemon died: its outcome is unknown.
            var uncertain = false
            /// Acceptable names/meta/sizes while uncertain.
            var alternatives: [(name: String, meta: String, size: Int64, deleted: Bool)] = []
        }

        /// A create or clone sent and not answered: the drive it would make (its name is the
        /// writer's unique step tag).
        struct Pending {
            var name: String
            var meta: String
            var size: Int64
        }

        final class Ledger: @unchecked Sendable {
            let lock = NSLock()
            var drives: [String: Known] = [:]
            var acknowledged = 0
            /// Creates and clones without an answer, by tag: when the daemon is killed, the ones
            /// left are those in flight at the kill, the only drives that may appear unannounced.
            var inFlight: [String: Pending] = [:]
            /// Drives that appeared after a restart, each matched to one create or clone in flight.
            var adopted = 0

            func with<T>(_ body: (Ledger) -> T) -> T { lock.withLock { body(self) } }
        }

        static var cycles: Int { Int(ProcessInfo.processInfo.environment["DRIVESD_CRASH_CYCLES"] ?? "") ?? 3 }

        @Test("SIGKILL at random moments: acknowledged writes survive whole, nothing half-present, every transition and job ends")
        func campaign() async throws {
            let daemon = try DaemonProcess(environment: [
                "DRIVESD_DURATIONS_CREATE_SECONDS": "0.2", "DRIVESD_DURATIONS_RESIZE_SECONDS": "0.3",
                "DRIVESD_DURATIONS_CLONE_BASE_SECONDS": "0.4", "DRIVESD_DURATIONS_CLONE_BYTES_PER_SECOND": "0",
            ])
            try daemon.addUser()
            let ledger = Ledger()
            var generator = SystemRandomNumberGenerator()
            for cycle in 0..<Self.cycles {
                try await daemon.start()
                try await verify(daemon, ledger, cycle: cycle)
                let runFor = Double.random(in: 0.3...1.5, using: &generator)
                let deadline = Date().addingTimeInterval(runFor)
                let writers = Task {
                    await withTaskGroup(of: Void.self) { group in
                        for writer in 0..<8 {
                            group.addTask { await self.write(daemon, ledger, writer: writer, cycle: cycle, until: deadline.addingTimeInterval(5)) }
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(Int64(runFor * 1000)))
                daemon.killHard()
                await writers.value
            }
            try await daemon.start()
            try await verify(daemon, ledger, cycle: Self.cycles)
            #expect(daemon.stop() == 0)
            let database = try AppDatabase.open(path: daemon.databasePath)
            #expect(try database.integrityCheck() == "ok")
            try database.close()
            let summary = ledger.with {
                "\(Self.cycles) cycles, \($0.acknowledged) acknowledged writes, \($0.drives.count) drives tracked, \($0.adopted) adopted from creates and clones in flight"
            }
            print("crash campaign: \(summary)")
            #expect(ledger.with { $0.acknowledged } > Self.cycles * 10)
        }

        /// One writer: creates, edits, resizes, clones and deletes its own drives until the daemon
        /// dies (a request fails to get an answer) or the deadline passes.
        func write(_ daemon: DaemonProcess, _ ledger: Ledger, writer: Int, cycle: Int, until deadline: Date) async {
            var mine: [String] = ledger.with { $0.drives.filter { $0.value.name.hasPrefix("w\(writer)-") && !$0.value.deleted }.map(\.key) }
            var step = 0
            while Date() < deadline {
                step += 1
                let roll = Int.random(in: 0..<10)
                let tag = "w\(writer)-c\(cycle)-s\(step)"
                do {
                    if roll < 4 || mine.isEmpty {
                        let body = #"{"name": "\#(tag)", "size": 1073741824, "media": "disk", "meta": {"m": "\#(tag)"}}"#
                        ledger.with { $0.inFlight[tag] = Pending(name: tag, meta: tag, size: 1_073_741_824) }
                        let reply = try await daemon.request("POST", "/api/2.0/drives/", body: body)
                        ledger.with { $0.inFlight[tag] = nil }
                        guard reply.status == 201, let uuid = reply.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue else { continue }
                        ledger.with {
                            $0.drives[uuid] = Known(name: tag, meta: tag, size: 1_073_741_824)
                            $0.acknowledged += 1
                        }
                        mine.append(uuid)
                    } else {
                        let uuid = mine.randomElement()!
                        guard let known = ledger.with({ $0.drives[uuid] }) else { continue }
                        var next = (name: known.name, meta: known.meta, size: known.size, deleted: false)
                        let method: String, path: String, body: String?
                        switch roll {
                        case 4, 5:
                            next.name = tag
                            next.meta = tag
                            (method, path) = ("PUT", "/api/2.0/drives/\(uuid)/")
                            body = #"{"name": "\#(tag)", "size": \#(known.size), "media": "disk", "meta": {"m": "\#(tag)"}}"#
                        case 6:
                            next.size = known.size + 1_073_741_824
                            (method, path) = ("POST", "/api/2.0/drives/\(uuid)/action/?do=resize")
                            body = #"{"name": "\#(known.name)", "size": \#(next.size), "media": "disk"}"#
                        case 7:
                            (method, path, body) = ("POST", "/api/2.0/drives/\(uuid)/action/?do=clone", #"{"name": "\#(tag)"}"#)
                        default:
                            next.deleted = true
                            (method, path, body) = ("DELETE", "/api/2.0/drives/\(uuid)/", nil)
                        }
                        ledger.with {
                            $0.drives[uuid]?.uncertain = true
                            $0.drives[uuid]?.alternatives.append(next)
                            // A clone takes the source's meta and size, and the name in its body.
                            if roll == 7 { $0.inFlight[tag] = Pending(name: tag, meta: known.meta, size: known.size) }
                        }
                        let reply = try await daemon.request(method, path, body: body)
                        ledger.with { ledger in
                            ledger.inFlight[tag] = nil
                            ledger.drives[uuid]?.uncertain = false
                            ledger.drives[uuid]?.alternatives = []
                            guard (200..<300).contains(reply.status) else { return }
                            ledger.acknowledged += 1
                            if roll == 7, let clone = reply.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue {
                                ledger.drives[clone] = Known(name: tag, meta: known.meta, size: known.size)
                                return
                            }
                            ledger.drives[uuid]?.name = next.name
                            ledger.drives[uuid]?.meta = next.meta
                            ledger.drives[uuid]?.size = next.size
                            ledger.drives[uuid]?.deleted = next.deleted
                        }
                        if roll == 7, (200..<300).contains(reply.status) {
                            // Track the clone as this writer's so it gets edited and deleted too.
                            if let clone = reply.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue { mine.append(clone) }
                        }
                        if next.deleted, (200..<300).contains(reply.status) { mine.removeAll { $0 == uuid } }
                    }
                } catch {
                    return  // the daemon died under us
                }
            }
        }

        /// After a restart: every transition completes, and what is stored matches what was
        /// acknowledged (or one of the in-flight outcomes).
        func verify(_ daemon: DaemonProcess, _ ledger: Ledger, cycle: Int) async throws {
            var drives: [JSONValue] = []
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                drives = try await daemon.request("GET", "/api/2.0/drives/detail/?limit=0").json?["objects"]?.arrayValue ?? []
                let transient = drives.filter {
                    let s = $0["status"]?.stringValue ?? ""
                    return s != "unmounted" && s != "mounted"
                }
                let startedJobs = try await daemon.request("GET", "/api/2.0/jobs/?state=started&limit=0").json?["meta"]?["total_count"]
                if transient.isEmpty && startedJobs == .int(0) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            var stored: [String: JSONValue] = [:]
            for drive in drives { if let uuid = drive["uuid"]?.stringValue { stored[uuid] = drive } }
            for drive in drives {
                #expect(["unmounted", "mounted"].contains(drive["status"]?.stringValue ?? ""), "cycle \(cycle): \(drive["uuid"]?.stringValue ?? "") left \(drive["status"]?.stringValue ?? "")")
            }
            let startedJobs = try await daemon.request("GET", "/api/2.0/jobs/?state=started&limit=0").json?["meta"]?["total_count"]
            #expect(startedJobs == .int(0), "cycle \(cycle): jobs still started")
            ledger.with { ledger in
                for (uuid, known) in ledger.drives {
                    let options = [(known.name, known.meta, known.size, known.deleted)] + known.alternatives.map { ($0.name, $0.meta, $0.size, $0.deleted) }
                    let drive = stored[uuid]
                    let matches = options.contains { option in
                        if option.3 { return drive == nil }
                        guard let drive else { return false }
                        return drive["name"] == .string(option.0) && drive["meta"]?["m"] == .string(option.1) && drive["size"] == .int(option.2)
                    }
                    #expect(matches, "cycle \(cycle): drive \(uuid) is \(drive.map { "\($0["name"]?.stringValue ?? "") \($0["size"] ?? .null)" } ?? "missing"), expected \(options)")
                    // Settle: the stored state is the known state from now on.
                    if let drive {
                        ledger.drives[uuid] = Known(
                            name: drive["name"]?.stringValue ?? "", meta: drive["meta"]?["m"]?.stringValue ?? "",
                            size: { if case .int(let n)? = drive["size"] { return n }; return 0 }())
                    } else {
                        ledger.drives[uuid]?.deleted = true
                        ledger.drives[uuid]?.alternatives = []
                    }
                }
                // Drives nobody acknowledged may exist only as the outcome of a create or clone in
                // flight at the kill, whole (the name and meta it was sent with, its size), each
                // at most once: a duplicated create, an invented row or a torn create fails here.
                let unknown = stored.filter { ledger.drives[$0.key] == nil }
                #expect(
                    unknown.count <= ledger.inFlight.count,
                    "cycle \(cycle): \(unknown.count) drives nobody acknowledged, \(ledger.inFlight.count) creates and clones were in flight")
                var unclaimed = ledger.inFlight
                for (uuid, drive) in unknown.sorted(by: { $0.key < $1.key }) {
                    let name = drive["name"]?.stringValue ?? ""
                    let size: Int64 = { if case .int(let n)? = drive["size"] { return n }; return -1 }()
                    let pending = unclaimed.removeValue(forKey: name)
                    #expect(pending != nil, "cycle \(cycle): drive \(uuid) named \(name.debugDescription) matches no create or clone in flight")
                    if let pending {
                        #expect(
                            drive["meta"]?["m"] == .string(pending.meta) && size == pending.size,
                            "cycle \(cycle): drive \(uuid) (\(name)) is not whole: meta \(drive["meta"] ?? .null), size \(size); sent \(pending)")
                    }
                    // Adopt it so later cycles check it too.
                    ledger.drives[uuid] = Known(name: name, meta: drive["meta"]?["m"]?.stringValue ?? "", size: size)
                    ledger.adopted += 1
                }
                // What was in flight and did not appear never will: the daemon that had it is gone.
                ledger.inFlight = [:]
            }
        }
    }
}
