import DriveAPI
import DriveLifecycle
import DriveModel
import DriveStore
import Foundation
import HTTPTypes
import Testing

@Suite("Clone and jobs")
struct CloneAndJobsTests {
    @Test("clone with no body: 202 {objects:[new]} cloning_dst; source cloning_src; one job referenced from both")
    func cloneNoBody() async throws {
        try await withDrivesd { env in
            let source = try await env.createDrive(
                name: "src", size: 2_147_483_648, extra: #", "meta": {"k": "v"}, "licenses": [{"license": 12}]"#)
            try await env.tick()
            let reply = try await env.request(.post, "/api/2.0/drives/\(source)/action/?do=clone")
            #expect(reply.code == 202)
            let clone = try #require(reply.first)
            #expect(reply.objects.count == 1)
            #expect(clone["status"] == .string("cloning_dst"))
            #expect(clone["name"] == .string("src"))
            #expect(clone["size"] == .int(2_147_483_648))
            #expect(clone["media"] == .string("disk"))
            #expect(clone["storage_type"] == .string("dssd"))
            #expect(clone["meta"] == .object(["k": .string("v")]))
            #expect(clone["licenses"]?.arrayValue?.first?["license"]?["resource_uri"] == .string("/api/2.0/licenses/12/"))
            let cloneUUID = try #require(clone["uuid"]?.stringValue)
            #expect(cloneUUID != source)
            let jobRefs = try #require(clone["jobs"]?.arrayValue)
            #expect(jobRefs.count == 1)
            let jobUUID = try #require(jobRefs.first?["uuid"]?.stringValue)
            #expect(jobRefs.first?["resource_uri"] == .string("/api/2.0/jobs/\(jobUUID)/"))

            let sourceNow = try await env.get("/api/2.0/drives/\(source)/").json
            #expect(sourceNow?["status"] == .string("cloning_src"))
            #expect(sourceNow?["jobs"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue } == [jobUUID])

            let job = try await env.get("/api/2.0/jobs/\(jobUUID)/")
            #expect(job.code == 200)
            #expect(job.json?["operation"] == .string("drive_clone"))
            #expect(job.json?["state"] == .string("started"))
            #expect(job.json?["resources"] == .array([.string("/api/2.0/drives/\(source)/"), .string("/api/2.0/drives/\(cloneUUID)/")]))
            let diffs = shapeDifferences(golden: try #require(try fixture("response_jobs_drive_clone").body), ours: try #require(job.json))
            #expect(diffs.isEmpty, "\(diffs)")

            try await env.tick()
            #expect(try await env.status(cloneUUID) == "unmounted")
            #expect(try await env.status(source) == "unmounted")
            let done = try await env.get("/api/2.0/jobs/\(jobUUID)/").json
            #expect(done?["state"] == .string("success"))
            #expect(done?["data"]?["progress"] == .int(100))
        }
    }

    @Test("clone body: name, media, bigger size, storage_type; the captured request's answer has the dump's shape")
    func cloneWithBody() async throws {
        try await withDrivesd { env in
            let source = try await env.createDrive(name: "test_drive_x", size: 1_207_959_631)
            try await env.tick()
            let request = try #require(try fixture("request_drive_clone").body)
            let reply = try await env.request(.post, "/api/2.0/drives/\(source)/action/?do=clone", body: request.jsonString)
            #expect(reply.code == 202)
            let clone = try #require(reply.first)
            #expect(clone["name"] == request["name"])
            #expect(clone["media"] == .string("cdrom"))
            #expect(clone["size"] == request["size"])
            let golden = try #require(try fixture("response_drive_clone").body)
            // `is_snapshotable`: this capture's clone answered `true`; the other captured clone
            // answers, all older (without `is_ephemeral`), answered null in cloning_dst. The newest
            // capture of a drive in a transient status (`drive_storage_type`) answers the boolean,
            // as drivesd does (README, compatibility notes).
            let diffs = shapeDifferences(golden: golden, ours: try #require(reply.json))
            #expect(clone["runtime"]?["is_snapshotable"] == .bool(true))
            #expect(diffs.isEmpty, "\(diffs)")
            try await env.tick()

            let cross = try await env.request(
                .post, "/api/2.0/drives/\(source)/action/?do=clone&avoid=\(UUID().uuidString)",
                body: #"{"storage_type": "zadara", "size": 2147483648}"#)
            #expect(cross.code == 202)
            #expect(cross.first?["storage_type"] == .string("zadara"))
            #expect(cross.first?["size"] == .int(2_147_483_648))
            try await env.tick()

            let empty = try await env.request(.post, "/api/2.0/drives/\(source)/action/?do=clone", body: "{}")
            #expect(empty.code == 202)
        }
    }

    @Test("clone refusals: smaller size 400; transient source 403; ephemeral 403; unknown 404; nothing half-created")
    func cloneRefusals() async throws {
        try await withDrivesd { env in
            let source = try await env.createDrive(size: 2_147_483_648)
            let creating = try await env.request(.post, "/api/2.0/drives/\(source)/action/?do=clone")
            #expect(creating.code == 403)
            #expect(creating.error.type == "permission")
            try await env.tick()
            let smaller = try await env.request(
                .post, "/api/2.0/drives/\(source)/action/?do=clone", body: #"{"size": 1073741824}"#)
            #expect(smaller.code == 400)
            #expect(smaller.error.point == "size")
            let badMedia = try await env.request(
                .post, "/api/2.0/drives/\(source)/action/?do=clone", body: #"{"media": "tape"}"#)
            #expect(badMedia.code == 400)
            let local = try await env.createDrive(name: "eph", extra: #", "storage_type": "local_nvme""#)
            try await env.tick()
            #expect(try await env.request(.post, "/api/2.0/drives/\(local)/action/?do=clone").code == 403)
            #expect(try await env.request(.post, "/api/2.0/drives/\(UUID().uuidString)/action/?do=clone").code == 404)
            #expect(try await env.get("/api/2.0/drives/").totalCount == 2)
            #expect(try await env.get("/api/2.0/jobs/").totalCount == 0)
            #expect(try await env.status(source) == "unmounted")
        }
    }

    @Test("a source being cloned cannot be resized or deleted; several clones at once; it returns when the last ends")
    func concurrentClonesOfOneSource() async throws {
        try await withDrivesd(
            settings: APISettings(durations: OperationDurations(cloneBaseSeconds: 1, cloneBytesPerSecond: 0, timeScale: 1))
        ) { env in
            let source = try await env.createDrive(size: 2_147_483_648)
            try await env.api.worker.tick(now: Date().addingTimeInterval(5))
            let first = try await env.request(.post, "/api/2.0/drives/\(source)/action/?do=clone")
            #expect(first.code == 202)
            let second = try await env.request(.post, "/api/2.0/drives/\(source)/action/?do=clone")
            #expect(second.code == 202)
            #expect(try await env.request(.delete, "/api/2.0/drives/\(source)/").code == 403)
            let resize = try await env.request(
                .post, "/api/2.0/drives/\(source)/action/?do=resize", body: #"{"name": "d", "size": 4294967296, "media": "disk"}"#)
            #expect(resize.code == 403)
            #expect(resize.error.message?.contains("cloning_src") == true)
            let sourceDrive = try await env.get("/api/2.0/drives/\(source)/").json
            #expect(sourceDrive?["jobs"]?.arrayValue?.count == 2)
            // Progress grows while copying.
            let jobUUID = try #require(first.first?["jobs"]?.arrayValue?.first?["uuid"]?.stringValue)
            let job = try await env.api.jobs.job(owner: env.alice.user.uuid, uuid: jobUUID, now: Date().addingTimeInterval(0.5))
            #expect(job.progress > 0 && job.progress < 100)
            try await env.api.worker.tick(now: Date().addingTimeInterval(5))
            #expect(try await env.status(source) == "unmounted")
            #expect(try await env.get("/api/2.0/jobs/?state=success").totalCount == 2)
        }
    }

    @Test("jobs list: -last_modified order, state filter, default limit 20, per-user, schema")
    func jobsList() async throws {
        try await withDrivesd { env in
            let source = try await env.createDrive()
            try await env.tick()
            var jobs: [String] = []
            for _ in 0..<3 {
                let reply = try await env.request(.post, "/api/2.0/drives/\(source)/action/?do=clone")
                jobs.append(try #require(reply.first?["jobs"]?.arrayValue?.first?["uuid"]?.stringValue))
                try await env.tick()
            }
            let list = try await env.get("/api/2.0/jobs/")
            #expect(list.code == 200)
            #expect(list.json?["meta"]?["limit"] == .int(20))
            #expect(list.objects.compactMap { $0["uuid"]?.stringValue } == jobs.reversed())
            #expect(try await env.get("/api/2.0/jobs/?state=started").totalCount == 0)
            #expect(try await env.get("/api/2.0/jobs/?state=success").totalCount == 3)
            #expect(try await env.get("/api/2.0/jobs/", as: env.bob).totalCount == 0)
            #expect(try await env.get("/api/2.0/jobs/\(jobs[0])/", as: env.bob).code == 404)
            let schema = try await env.get("/api/2.0/jobs/schema/")
            #expect(schema.json?["ordering"] == .array([.string("-last_modified")]))
            #expect(try await env.request(.post, "/api/2.0/jobs/", body: "{}").code == 405)
            let golden = try #require(try fixture("response_jobs_list").body)
            let diffs = shapeDifferences(golden: golden, ours: try #require(list.json))
            #expect(diffs.isEmpty, "\(diffs)")
        }
    }

    @Test("finished jobs older than the retention are purged with their refs; running jobs are kept")
    func jobPurge() async throws {
        try await withDrivesd(settings: APISettings(durations: OperationDurations.stepped, jobRetention: .seconds(60))) { env in
            let source = try await env.createDrive()
            try await env.tick()
            _ = try await env.request(.post, "/api/2.0/drives/\(source)/action/?do=clone")
            let cloneUUID = try #require(
                try await env.get("/api/2.0/drives/detail/?limit=0").objects.last?["uuid"]?.stringValue)
            #expect(try await env.api.worker.purgeJobs(now: Date().addingTimeInterval(3600)) == 0)
            try await env.tick()
            #expect(try await env.api.worker.purgeJobs(now: Date().addingTimeInterval(30)) == 0)
            #expect(try await env.api.worker.purgeJobs(now: Date().addingTimeInterval(120)) == 1)
            #expect(try await env.get("/api/2.0/jobs/").totalCount == 0)
            #expect(try await env.get("/api/2.0/drives/\(source)/").json?["jobs"] == .array([]))
            #expect(try await env.get("/api/2.0/drives/\(cloneUUID)/").json?["jobs"] == .array([]))
        }
    }
}

@Suite("Status sequences and concurrency")
struct StatusSequenceTests {
    /// What Terraform accepts while waiting: pending statuses, then a target.
    static let terraformPending: Set<String> = ["creating", "cloning_dst", "resizing"]
    static let terraformTarget: Set<String> = ["mounted", "unmounted"]

    @Test("create, resize and clone as a polling client sees them: only Terraform's pending, then a target")
    func observedSequences() async throws {
        try await withDrivesd(
            settings: APISettings(durations: OperationDurations(
                createSeconds: 0.3, resizeSeconds: 0.3, cloneBaseSeconds: 0.3, cloneBytesPerSecond: 0, timeScale: 1)),
            runWorker: true
        ) { env in
            // The sequence a client sees: the status in the answer, then what polling shows (the
            // answer's status is first whatever the machine's load delays the polling by).
            func observe(_ uuid: String, answered: String?) async throws -> [String] {
                var seen: [String] = answered.map { [$0] } ?? []
                for _ in 0..<1000 {
                    let status = try #require(try await env.status(uuid))
                    if seen.last != status { seen.append(status) }
                    if Self.terraformTarget.contains(status) { break }
                    try await Task.sleep(for: .milliseconds(5))
                }
                return seen
            }
            let create = try await env.request(
                .post, "/api/2.0/drives/", body: #"{"name": "d", "size": 2147483648, "media": "disk"}"#)
            let uuid = try #require(create.first?["uuid"]?.stringValue)
            let created = try await observe(uuid, answered: create.first?["status"]?.stringValue)
            #expect(created.first == "creating")
            #expect(created.last == "unmounted")
            #expect(created.dropLast().allSatisfy(Self.terraformPending.contains))

            let resize = try await env.request(
                .put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "d", "size": 4294967296, "media": "disk"}"#)
            let resized = try await observe(uuid, answered: resize.json?["status"]?.stringValue)
            #expect(resized.first == "resizing")
            #expect(resized.dropLast().allSatisfy(Self.terraformPending.contains), "\(resized)")
            #expect(resized.last == "unmounted")
            #expect(try await env.get("/api/2.0/drives/\(uuid)/").json?["size"] == .int(4_294_967_296))

            let clone = try await env.request(.post, "/api/2.0/drives/\(uuid)/action/?do=clone")
            let cloneUUID = try #require(clone.first?["uuid"]?.stringValue)
            let cloned = try await observe(cloneUUID, answered: clone.first?["status"]?.stringValue)
            #expect(cloned.first == "cloning_dst")
            #expect(cloned.dropLast().allSatisfy(Self.terraformPending.contains), "\(cloned)")
            #expect(cloned.last == "unmounted")
            #expect(try await observe(uuid, answered: nil).last == "unmounted")
        }
    }

    @Test("many parallel resizes, clones, edits and deletes on one drive: only legal outcomes, no 5xx, and the end state is what was answered")
    func parallelOperations() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive(name: "d", size: 2_147_483_648)
            try await env.tick()
            // (operation, status, the size or name it asked for)
            let codes = try await withThrowingTaskGroup(of: (String, Int, String).self) { group in
                for i in 0..<60 {
                    group.addTask {
                        switch i % 4 {
                        case 0:
                            let size = 2_147_483_648 + Int64(i) * 1_073_741_824
                            let r = try await env.request(
                                .post, "/api/2.0/drives/\(uuid)/action/?do=resize",
                                body: #"{"name": "d", "size": \#(size), "media": "disk"}"#)
                            return ("resize", r.code, "\(size)")
                        case 1:
                            return ("clone", try await env.request(.post, "/api/2.0/drives/\(uuid)/action/?do=clone").code, "")
                        case 2:
                            return ("delete", try await env.request(.delete, "/api/2.0/drives/\(uuid)/").code, "")
                        default:
                            let r = try await env.request(
                                .put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "n\#(i)", "size": 2147483648, "media": "disk"}"#)
                            return ("edit", r.code, "n\(i)")
                        }
                    }
                    if i % 10 == 0 { group.addTask { _ = try await env.tick(); return ("tick", 0, "") } }
                }
                var all: [(String, Int, String)] = []
                for try await result in group { all.append(result) }
                return all
            }
            // One writer serializes every request in its own savepoint, so a compare-and-swap
            // never meets a concurrent change here: no 503 either. 400: a size below one a
            // resize completed first.
            let legal: [String: Set<Int>] = [
                "resize": [202, 400, 403, 404], "clone": [202, 403, 404], "delete": [204, 403, 404],
                "edit": [200, 400, 403, 404], "tick": [0],
            ]
            #expect(codes.count == 66)
            for (op, code, _) in codes {
                #expect(legal[op]?.contains(code) == true, "\(op) → \(code)")
            }
            func succeeded(_ op: String, _ code: Int) -> [String] { codes.filter { $0.0 == op && $0.1 == code }.map(\.2) }
            let resized = succeeded("resize", 202), cloned = succeeded("clone", 202), edited = succeeded("edit", 200)
            let deletes = succeeded("delete", 204).count
            #expect(deletes <= 1)
            // Something ran: the drive starts unmounted, so the first operation the writer takes
            // succeeds, whichever it is.
            #expect(resized.count + cloned.count + edited.count + deletes > 0, "no operation succeeded: \(codes)")

            // Let everything finish, then check the invariants and that the end state is what
            // the answers said.
            try await env.api.worker.tick(now: Date().addingTimeInterval(3600))
            let drives = try await env.get("/api/2.0/drives/detail/?limit=0").objects
            try #require(drives.count == cloned.count + (deletes == 1 ? 0 : 1), "\(drives.count) drives after \(cloned.count) clones and \(deletes) deletes")
            for drive in drives {
                #expect(drive["status"] == .string("unmounted"), "\(drive["uuid"]?.stringValue ?? "?") left \(drive["status"]?.stringValue ?? "?")")
            }
            #expect(try await env.api.transitions.pendingCount() == 0)
            #expect(try await env.get("/api/2.0/jobs/?state=started").totalCount == 0)
            let jobs = try await env.get("/api/2.0/jobs/?limit=0").objects
            try #require(jobs.count == cloned.count, "\(jobs.count) jobs after \(cloned.count) clones")
            for job in jobs {
                #expect(job["resources"]?.arrayValue?.count == 2)
                #expect(job["state"] == .string("success"))
            }
            let source = try await env.get("/api/2.0/drives/\(uuid)/")
            if deletes == 1 {
                #expect(source.code == 404)
            } else {
                #expect(source.code == 200)
                let size = source.json?["size"].flatMap { if case .int(let n) = $0 { "\(n)" } else { nil } }
                #expect((resized + ["2147483648"]).contains(size ?? "?"), "size \(size ?? "?") was never asked for")
                #expect((edited + ["d"]).contains(source.json?["name"]?.stringValue ?? "?"))
            }
        }
    }
}
