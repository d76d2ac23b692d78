import DriveAPI
import DriveLifecycle
import DriveModel
import DriveStore
import DrivesdApp
import Foundation
import HTTPTypes
import Testing

extension TestEnv {
    /// Creates a stopped server with `drives` (a JSON list) and returns its uuid.
    func createServer(name: String = "srv", drives: String = "[]", as account: Account? = nil) async throws -> String {
        let reply = try await request(
            .post, "/api/2.0/servers/",
            body: #"{"objects": [{"name": "\#(name)", "cpu": 1000, "mem": 536870912, "vnc_password": "pw", "drives": \#(drives)}]}"#,
            as: account)
        try #require(reply.code == 201, "server create failed: \(reply.text)")
        return try #require(reply.first?["uuid"]?.stringValue)
    }

    func putServerDrives(_ server: String, _ drives: String, as account: Account? = nil) async throws -> Reply {
        try await request(
            .put, "/api/2.0/servers/\(server)/",
            body: #"{"name": "srv", "cpu": 1000, "mem": 536870912, "vnc_password": "pw", "drives": \#(drives)}"#, as: account)
    }

    static func mount(_ drive: String, _ channel: String = "0:0", device: String = "virtio") -> String {
        #"{"boot_order": 1, "dev_channel": "\#(channel)", "device": "\#(device)", "drive": "\#(drive)"}"#
    }

    /// Starts (or stops) a server and lets the worker finish the transition.
    func serverAction(_ server: String, _ action: String) async throws -> Reply {
        let reply = try await request(.post, "/api/2.0/servers/\(server)/action/?do=\(action)")
        try await tick()
        return reply
    }
}

@Suite("Servers, mounts and the drive coupling")
struct MountsTests {
    @Test("attach through server create and PUT: mounted with mounted_on; detach returns it to unmounted")
    func attachDetach() async throws {
        try await withDrivesd { env in
            let drive = try await env.createDrive()
            try await env.tick()
            let server = try await env.createServer(drives: "[\(TestEnv.mount(drive))]")
            let mounted = try await env.get("/api/2.0/drives/\(drive)/").json
            #expect(mounted?["status"] == .string("mounted"))
            #expect(mounted?["mounted_on"] == .array([APIPath.reference("servers", server)]))
            let serverJSON = try await env.get("/api/2.0/servers/\(server)/").json
            #expect(serverJSON?["drives"]?.arrayValue?.first?["drive"] == APIPath.reference("drives", drive))
            #expect(serverJSON?["status"] == .string("stopped"))
            #expect(serverJSON?["runtime"] == .null)

            let detached = try await env.putServerDrives(server, "[]")
            #expect(detached.code == 200)
            let after = try await env.get("/api/2.0/drives/\(drive)/").json
            #expect(after?["status"] == .string("unmounted"))
            #expect(after?["mounted_on"] == .array([]))

            _ = try await env.putServerDrives(server, "[\(TestEnv.mount(drive))]")
            #expect(try await env.status(drive) == "mounted")
            #expect(try await env.request(.delete, "/api/2.0/servers/\(server)/").code == 204)
            #expect(try await env.status(drive) == "unmounted")
        }
    }

    @Test("start/stop through the worker; wrong-state actions 403 with the real API's message")
    func startStop() async throws {
        try await withDrivesd { env in
            let server = try await env.createServer()
            let start = try await env.request(.post, "/api/2.0/servers/\(server)/action/?do=start")
            #expect(start.code == 202)
            #expect(start.json == .object(["action": .string("start"), "result": .string("success"), "uuid": .string(server)]))
            #expect(try await env.get("/api/2.0/servers/\(server)/").json?["status"] == .string("starting"))
            try await env.tick()
            let running = try await env.get("/api/2.0/servers/\(server)/").json
            #expect(running?["status"] == .string("running"))
            #expect(running?["runtime"]?["active_since"] != nil)
            let again = try await env.request(.post, "/api/2.0/servers/\(server)/action/?do=start", body: "{}")
            #expect(again.code == 403)
            #expect(again.error.message == #"Cannot start guest in state "started". Guest should be in state "stopped""#)
            #expect(try await env.request(.delete, "/api/2.0/servers/\(server)/").code == 403)
            #expect(try await env.serverAction(server, "stop").code == 202)
            #expect(try await env.get("/api/2.0/servers/\(server)/").json?["status"] == .string("stopped"))
            let stopAgain = try await env.request(.post, "/api/2.0/servers/\(server)/action/?do=stop")
            #expect(stopAgain.code == 403)
            #expect(stopAgain.error.message?.contains("['started', 'running_legacy']") == true)
            #expect(try await env.request(.post, "/api/2.0/servers/\(server)/action/?do=fly").code == 400)
        }
    }

    @Test("running-server rules: drive PUT changes only name/meta/tags/allow_multimount; resize and delete 403")
    func runningServerRules() async throws {
        try await withDrivesd { env in
            let drive = try await env.createDrive(size: 2_147_483_648)
            try await env.tick()
            let server = try await env.createServer(drives: "[\(TestEnv.mount(drive))]")
            _ = try await env.serverAction(server, "start")
            let put = try await env.request(
                .put, "/api/2.0/drives/\(drive)/",
                body: #"{"name": "renamed", "size": 4294967296, "media": "cdrom", "meta": {"a": "b"}, "allow_multimount": true}"#)
            #expect(put.code == 200)
            #expect(put.json?["name"] == .string("renamed"))
            #expect(put.json?["meta"] == .object(["a": .string("b")]))
            #expect(put.json?["allow_multimount"] == .bool(true))
            #expect(put.json?["media"] == .string("disk"))
            #expect(put.json?["size"] == .int(2_147_483_648))
            #expect(put.json?["status"] == .string("mounted"))
            let resize = try await env.request(
                .post, "/api/2.0/drives/\(drive)/action/?do=resize", body: #"{"name": "renamed", "size": 4294967296, "media": "disk"}"#)
            #expect(resize.code == 403)
            #expect(try await env.request(.delete, "/api/2.0/drives/\(drive)/").code == 403)
            // Stopped again: the resize goes through and returns to mounted.
            _ = try await env.serverAction(server, "stop")
            let ok = try await env.request(
                .post, "/api/2.0/drives/\(drive)/action/?do=resize", body: #"{"name": "renamed", "size": 4294967296, "media": "disk"}"#)
            #expect(ok.code == 202)
            #expect(ok.first?["status"] == .string("resizing"))
            try await env.tick()
            #expect(try await env.status(drive) == "mounted")
            // A drive on a stopped server can be deleted; it leaves the server's drives.
            #expect(try await env.request(.delete, "/api/2.0/drives/\(drive)/").code == 204)
            #expect(try await env.get("/api/2.0/servers/\(server)/").json?["drives"] == .array([]))
        }
    }

    @Test("hot-plug on running servers follows the switch: on attaches, off ignores")
    func hotplug() async throws {
        for enabled in [true, false] {
            try await withDrivesd(settings: APISettings(durations: OperationDurations.stepped, hotplug: enabled)) { env in
                let drive = try await env.createDrive()
                try await env.tick()
                let server = try await env.createServer()
                _ = try await env.serverAction(server, "start")
                #expect(try await env.putServerDrives(server, "[\(TestEnv.mount(drive))]").code == 200)
                #expect(try await env.status(drive) == (enabled ? "mounted" : "unmounted"))
            }
        }
    }

    @Test("mount validation: channels, duplicates, multimount, cdroms, transient drives, other users' drives")
    func mountValidation() async throws {
        try await withDrivesd { env in
            let disk = try await env.createDrive(name: "disk")
            let cdrom = try await env.createDrive(name: "cd", media: "cdrom")
            let shared = try await env.createDrive(name: "shared", extra: #", "allow_multimount": true"#)
            let creating = try await env.createDrive(name: "late")
            let bobs = try await env.createDrive(name: "bob", as: env.bob)
            try await env.api.worker.tick()
            let late = try await env.createDrive(name: "still-creating")
            _ = creating
            for (drives, code, point) in [
                ("[\(TestEnv.mount(disk, "0:6"))]", 400, "drives"),
                ("[\(TestEnv.mount(disk, "2:0", device: "ide"))]", 400, "drives"),
                ("[\(TestEnv.mount(disk, "a:b"))]", 400, "drives"),
                (#"[{"dev_channel": "0:0", "device": "floppy", "drive": "\#(disk)"}]"#, 400, "drives"),
                ("[\(TestEnv.mount(disk, "0:0")), \(TestEnv.mount(cdrom, "0:0"))]", 400, "drives"),
                ("[\(TestEnv.mount(late))]", 403, nil),
                ("[\(TestEnv.mount(bobs))]", 404, nil),
                ("[\(TestEnv.mount(UUID().uuidString.lowercased()))]", 404, nil),
            ] as [(String, Int, String?)] {
                let reply = try await env.request(
                    .post, "/api/2.0/servers/",
                    body: #"{"name": "s", "cpu": 1000, "mem": 536870912, "vnc_password": "pw", "drives": \#(drives)}"#)
                #expect(reply.code == code, "\(drives): \(reply.text)")
                if let point { #expect(reply.error.point == point) }
            }
            #expect(try await env.get("/api/2.0/servers/").totalCount == 0)
            // ide and virtio may share a channel number.
            let first = try await env.createServer(
                name: "a", drives: "[\(TestEnv.mount(disk, "0:0", device: "ide")), \(TestEnv.mount(cdrom, "0:0")), \(TestEnv.mount(shared, "0:1"))]")
            // A disk already mounted elsewhere needs allow_multimount; cdroms mount many times.
            let taken = try await env.request(
                .post, "/api/2.0/servers/",
                body: #"{"name": "b", "cpu": 1000, "mem": 536870912, "vnc_password": "pw", "drives": [\#(TestEnv.mount(disk))]}"#)
            #expect(taken.code == 403)
            let second = try await env.createServer(name: "b", drives: "[\(TestEnv.mount(cdrom)), \(TestEnv.mount(shared, "0:1"))]")
            let sharedDrive = try await env.get("/api/2.0/drives/\(shared)/").json
            #expect(sharedDrive?["mounted_on"]?.arrayValue?.count == 2)
            #expect(try await env.request(.delete, "/api/2.0/servers/\(first)/").code == 204)
            #expect(try await env.status(shared) == "mounted")
            #expect(try await env.status(disk) == "unmounted")
            #expect(try await env.get("/api/2.0/servers/\(second)/", as: env.bob).code == 404)
        }
    }

    @Test("server delete with recurse: all_drives, disks, cdroms")
    func recurseDelete() async throws {
        for (recurse, survivors) in [("all_drives", [String]()), ("disks", ["cd"]), ("cdroms", ["disk"])] {
            try await withDrivesd { env in
                let disk = try await env.createDrive(name: "disk")
                let cdrom = try await env.createDrive(name: "cd", media: "cdrom")
                try await env.tick()
                let server = try await env.createServer(
                    drives: "[\(TestEnv.mount(disk, "0:0", device: "ide")), \(TestEnv.mount(cdrom, "0:1", device: "ide"))]")
                let reply = try await env.request(.delete, "/api/2.0/servers/\(server)/?recurse=\(recurse)")
                #expect(reply.code == 204)
                let left = try await env.get("/api/2.0/drives/detail/").objects
                try #require(left.count == survivors.count, "\(recurse): \(left.count) drives left")
                #expect(left.compactMap { $0["name"]?.stringValue } == survivors)
                // A survivor is back to unmounted (none is left after all_drives: checked above).
                for drive in left { #expect(drive["status"] == .string("unmounted"), "\(recurse): \(drive["name"] ?? .null)") }
            }
        }
    }

    @Test("server lists: short shape, detail, filters")
    func serverLists() async throws {
        try await withDrivesd { env in
            _ = try await env.createServer(name: "alpha")
            // A mounted drive, as in the capture: its `drives` item's shape is compared too.
            let disk = try await env.createDrive(name: "disk")
            try await env.tick()
            _ = try await env.createServer(name: "beta", drives: "[\(TestEnv.mount(disk, "0:0"))]")
            let short = try await env.get("/api/2.0/servers/?limit=0")
            #expect(Set(try #require(short.first?.objectValue).keys) == ["name", "owner", "resource_uri", "runtime", "status", "uuid"])
            let detail = try await env.get("/api/2.0/servers/detail/?name=beta")
            #expect(detail.objects.count == 1)
            let golden = try #require(try fixture("response_server_attach_drive").body)
            let diffs = shapeDifferences(golden: golden, ours: try #require(detail.first))
            #expect(diffs.isEmpty, "\(diffs)")
            #expect(try await env.get("/api/2.0/servers/", as: env.bob).totalCount == 0)
        }
    }
}

@Suite("Library drives, tags and availability groups")
struct RelationsTests {
    static let linux = "6d53b92c-42dc-472b-a7b6-7021f45f377a"
    static let windows = "0c4ab3c1-8f0d-4d27-9d8e-7be9a6f1c2d3"
    static let installCD = "8b6a9a55-93c6-4b3e-8f11-34d0d6b0e7aa"

    @Test("libdrives: list, filters, one, schema; the libdrive_get dump's shape")
    func libdrives() async throws {
        try await withDrivesd { env in
            let list = try await env.get("/api/2.0/libdrives/")
            #expect(list.code == 200)
            #expect((list.totalCount ?? 0) >= 3)
            try #require(list.objects.count == 5, "the catalogue of migration 0003 holds 5 library drives")
            #expect(list.objects.allSatisfy { $0["owner"] == .null })
            let windows = try await env.get("/api/2.0/libdrives/?os=windows").objects
            #expect(windows.compactMap { $0["uuid"]?.stringValue }.sorted() == [Self.windows, "c7105ec8-5d60-43a7-a11b-18dcfc1a4433"].sorted())
            #expect(windows.allSatisfy { $0["os"] == .string("windows") })
            #expect(try await env.get("/api/2.0/libdrives/?name__icontains=UBUNTU&image_type=install").totalCount == 1)
            #expect(try await env.get("/api/2.0/libdrives/?arch=64&category=dbserver").totalCount == 1)
            let one = try await env.get("/api/2.0/libdrives/c7105ec8-5d60-43a7-a11b-18dcfc1a4433/")
            let golden = try #require(try fixture("response_libdrive_get").body)
            let diffs = shapeDifferences(golden: golden, ours: try #require(one.json))
            #expect(diffs.isEmpty, "\(diffs)")
            #expect(one.json?["licenses"] == golden["licenses"])
            #expect(try await env.get("/api/2.0/libdrives/schema/").json?["filtering"]?["os"] != nil)
            #expect(try await env.get("/api/2.0/libdrives/\(UUID().uuidString)/").code == 404)
            #expect(try await env.request(.delete, "/api/2.0/libdrives/\(Self.linux)/").code == 405)
        }
    }

    @Test("a library drive through /drives/: drive shape, owner null, never listed, not editable")
    func libdriveThroughDrives() async throws {
        try await withDrivesd { env in
            let reply = try await env.get("/api/2.0/drives/\(Self.windows)/")
            #expect(reply.code == 200)
            #expect(reply.json?["owner"] == .null)
            #expect(reply.json?["resource_uri"] == .string("/api/2.0/drives/\(Self.windows)/"))
            #expect(reply.json?["storage_type"] == .string("dssd"))
            #expect(reply.json?["runtime"]?["storage_type"] == .string("dssd"))
            #expect(reply.json?["os"] == nil)
            #expect(try await env.get("/api/2.0/drives/detail/").totalCount == 0)
            let put = try await env.request(
                .put, "/api/2.0/drives/\(Self.windows)/", body: #"{"name": "x", "size": 34359738368, "media": "disk"}"#)
            #expect(put.code == 403)
            #expect(try await env.request(.delete, "/api/2.0/drives/\(Self.windows)/").code == 403)
        }
    }

    @Test("library clone through /libdrives/ and /drives/: owned drive, cloning_dst, job, meta and frozen licenses")
    func libraryClone() async throws {
        try await withDrivesd { env in
            let reply = try await env.request(
                .post, "/api/2.0/libdrives/\(Self.windows)/action/?do=clone", body: #"{"name": "win", "size": 42949672960}"#)
            #expect(reply.code == 202)
            let clone = try #require(reply.first)
            #expect(clone["status"] == .string("cloning_dst"))
            #expect(clone["owner"]?["uuid"] == .string(env.alice.user.uuid))
            #expect(clone["size"] == .int(42_949_672_960))
            #expect(clone["meta"]?["os"] == .string("windows"))
            #expect(clone["jobs"]?.arrayValue?.count == 1)
            #expect(clone["licenses"]?.arrayValue?.first?["license"]?["resource_uri"] == .string("/api/2.0/licenses/12/"))
            let uuid = try #require(clone["uuid"]?.stringValue)
            try await env.tick()
            #expect(try await env.status(uuid) == "unmounted")
            // Frozen: a PUT cannot change them.
            let put = try await env.request(
                .put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "win", "size": 42949672960, "media": "disk", "licenses": []}"#)
            #expect(put.code == 200)
            #expect(put.json?["licenses"]?.arrayValue?.count == 1)
            let viaDrives = try await env.request(.post, "/api/2.0/drives/\(Self.linux)/action/?do=clone")
            #expect(viaDrives.code == 202)
            #expect(viaDrives.first?["name"] == .string("Ubuntu 22.04 LTS Server"))
            let smaller = try await env.request(
                .post, "/api/2.0/libdrives/\(Self.linux)/action/?do=clone", body: #"{"size": 1073741824}"#)
            #expect(smaller.code == 400)
        }
    }

    @Test("a library cdrom attaches directly; a library disk cannot (403)")
    func libraryAttach() async throws {
        try await withDrivesd { env in
            let server = try await env.createServer(drives: "[\(TestEnv.mount(Self.installCD, "0:0", device: "ide"))]")
            let serverJSON = try await env.get("/api/2.0/servers/\(server)/").json
            #expect(serverJSON?["drives"]?.arrayValue?.first?["drive"]?["uuid"] == .string(Self.installCD))
            #expect(try await env.get("/api/2.0/drives/\(Self.installCD)/").json?["mounted_on"] == .array([APIPath.reference("servers", server)]))
            let disk = try await env.putServerDrives(server, "[\(TestEnv.mount(Self.linux))]")
            #expect(disk.code == 403)
            #expect(disk.error.type == "permission")
        }
    }

    @Test("tags: CRUD; resources and drive tags are two views of one relation, also after deletes")
    func tags() async throws {
        try await withDrivesd { env in
            let drive = try await env.createDrive(name: "tagged")
            let server = try await env.createServer()
            let created = try await env.request(
                .post, "/api/2.0/tags/", body: #"{"objects": [{"name": "web", "resources": ["\#(drive)", "/api/2.0/servers/\#(server)/"]}]}"#)
            #expect(created.code == 201)
            let tag = try #require(created.first?["uuid"]?.stringValue)
            let resources = try #require(created.first?["resources"]?.arrayValue)
            #expect(Set(resources.compactMap { $0["res_type"]?.stringValue }) == ["drives", "servers"])
            #expect(try await env.get("/api/2.0/drives/\(drive)/").json?["tags"] == .array([APIPath.reference("tags", tag)]))
            #expect(try await env.get("/api/2.0/servers/\(server)/").json?["tags"] == .array([APIPath.reference("tags", tag)]))
            #expect(try await env.get("/api/2.0/drives/?tag=\(tag)").totalCount == 1)
            #expect(try await env.get("/api/2.0/drives/?tag__name=web").totalCount == 1)
            #expect(try await env.get("/api/2.0/drives/?tag__name=other").totalCount == 0)
            let tagDrives = try await env.get("/api/2.0/tags/\(tag)/drives/")
            #expect(Set(try #require(tagDrives.first?.objectValue).keys) == ["owner", "resource_uri", "status", "uuid"])
            #expect(try await env.get("/api/2.0/tags/\(tag)/drives/detail/").first?["name"] == .string("tagged"))
            #expect(try await env.get("/api/2.0/tags/\(tag)/servers/").totalCount == 1)

            // The drive side: PUT tags [] removes it from the tag's resources.
            _ = try await env.tick()
            let untag = try await env.request(
                .put, "/api/2.0/drives/\(drive)/", body: #"{"name": "tagged", "size": 1073741824, "media": "disk", "tags": []}"#)
            #expect(untag.json?["tags"] == .array([]))
            #expect(try await env.get("/api/2.0/tags/\(tag)/").json?["resources"]?.arrayValue?.count == 1)
            let retag = try await env.request(
                .put, "/api/2.0/drives/\(drive)/", body: #"{"name": "tagged", "size": 1073741824, "media": "disk", "tags": [{"uuid": "\#(tag)"}]}"#)
            #expect(retag.json?["tags"] == .array([APIPath.reference("tags", tag)]))
            // Renaming keeps resources when they are left out.
            let renamed = try await env.request(.put, "/api/2.0/tags/\(tag)/", body: #"{"name": "web2"}"#)
            #expect(renamed.json?["resources"]?.arrayValue?.count == 2)
            // Deleting the drive removes it from the tag; deleting the tag removes it from the server.
            #expect(try await env.request(.delete, "/api/2.0/drives/\(drive)/").code == 204)
            #expect(try await env.get("/api/2.0/tags/\(tag)/").json?["resources"]?.arrayValue?.count == 1)
            #expect(try await env.request(.delete, "/api/2.0/tags/\(tag)/").code == 204)
            #expect(try await env.get("/api/2.0/servers/\(server)/").json?["tags"] == .array([]))
            // Other users' tags are invisible.
            let bobTag = try await env.request(.post, "/api/2.0/tags/", body: #"{"name": "bob"}"#, as: env.bob)
            let bobUUID = try #require(bobTag.first?["uuid"]?.stringValue)
            #expect(try await env.get("/api/2.0/tags/\(bobUUID)/").code == 404)
        }
    }

    @Test("tagging another user's tag or an unknown resource is 404 and changes nothing")
    func tagRefusals() async throws {
        try await withDrivesd { env in
            let bobTag = try await env.request(.post, "/api/2.0/tags/", body: #"{"name": "bob"}"#, as: env.bob)
            let bobUUID = try #require(bobTag.first?["uuid"]?.stringValue)
            let create = try await env.request(
                .post, "/api/2.0/drives/", body: #"{"name": "x", "size": 1073741824, "media": "disk", "tags": ["\#(bobUUID)"]}"#)
            #expect(create.code == 404)
            #expect(try await env.get("/api/2.0/drives/").totalCount == 0)
            let unknown = try await env.request(.post, "/api/2.0/tags/", body: #"{"name": "t", "resources": ["\#(UUID().uuidString)"]}"#)
            #expect(unknown.code == 404)
            #expect(try await env.get("/api/2.0/tags/").totalCount == 0)
        }
    }

    @Test("availability groups from storage hosts; avoid places new drives away from the listed ones")
    func availability() async throws {
        try await withDrivesd(settings: APISettings(durations: OperationDurations.stepped, storageHosts: 2)) { env in
            let a = try await env.createDrive(name: "a")
            let b = try await env.request(.post, "/api/2.0/drives/?avoid=\(a)", body: #"{"name": "b", "size": 1073741824, "media": "disk"}"#)
            let bUUID = try #require(b.first?["uuid"]?.stringValue)
            #expect(try await env.get("/api/2.0/drives/availability_groups/\(a)/").json == .array([.string(a)]))
            let c = try await env.request(
                .post, "/api/2.0/drives/?avoid=\(a),\(bUUID)", body: #"{"name": "c", "size": 1073741824, "media": "disk"}"#)
            #expect(c.code == 201)  // unsatisfiable beyond the first: best effort, never an error
            let cUUID = try #require(c.first?["uuid"]?.stringValue)
            let groupOfA = try await env.get("/api/2.0/drives/availability_groups/\(a)/").json?.arrayValue ?? []
            #expect(groupOfA.contains(.string(a)))
            #expect(!groupOfA.contains(.string(bUUID)))
            #expect(!groupOfA.contains(.string(cUUID)))
            let groups = try await env.get("/api/2.0/drives/availability_groups/").json?.arrayValue ?? []
            #expect(groups.count == 1)
            #expect(Set(groups.first?.arrayValue?.compactMap(\.stringValue) ?? []) == [bUUID, cUUID])
            #expect(try await env.get("/api/2.0/drives/availability_groups/\(UUID().uuidString)/").code == 404)
            let bad = try await env.request(.post, "/api/2.0/drives/?avoid=nonsense", body: #"{"name": "d", "size": 1073741824, "media": "disk"}"#)
            #expect(bad.code == 201)
        }
    }

    @Test("a bulk create (its multi-row path) places drives as single creates do: avoid honoured, round-robin, each one's create transition")
    func bulkPlacement() async throws {
        try await withDrivesd(settings: APISettings(durations: OperationDurations.stepped, storageHosts: 2)) { env in
            let a = try await env.createDrive(name: "a")
            let one = #"{"name": "bulk", "size": 1073741824, "media": "disk"}"#
            let avoided = try await env.request(.post, "/api/2.0/drives/?avoid=\(a)", body: "[\(Array(repeating: one, count: 4).joined(separator: ","))]")
            #expect(avoided.code == 201)
            let four = avoided.objects.compactMap { $0["uuid"]?.stringValue }
            #expect(four.count == 4)
            #expect(Set(avoided.objects.compactMap { $0["status"]?.stringValue }) == ["creating"])
            #expect(try await env.get("/api/2.0/drives/availability_groups/\(a)/").json == .array([.string(a)]))
            let group = try await env.get("/api/2.0/drives/availability_groups/\(four[0])/").json?.arrayValue ?? []
            #expect(Set(group.compactMap(\.stringValue)) == Set(four), "all four on the one host a is not on")
            // Without avoid (Bob's first drives): spread over both hosts, two and two.
            let spread = try await env.request(.post, "/api/2.0/drives/", body: "[\(Array(repeating: one, count: 4).joined(separator: ","))]", as: env.bob)
            let bobs = spread.objects.compactMap { $0["uuid"]?.stringValue }
            #expect(bobs.count == 4)
            let groups = try await env.get("/api/2.0/drives/availability_groups/", as: env.bob).json?.arrayValue ?? []
            #expect(groups.map { $0.arrayValue?.count ?? 0 }.sorted() == [2, 2])
            // Each has its create transition: all complete on the next tick, in request order.
            #expect(Set(try await env.tick()).isSuperset(of: four + bobs))
            for uuid in four + bobs { #expect(try await env.status(uuid, as: bobs.contains(uuid) ? env.bob : nil) == "unmounted") }
            #expect(try await env.get("/api/2.0/drives/?limit=0", as: env.bob).objects.compactMap { $0["uuid"]?.stringValue } == bobs)
        }
    }
}

@Suite("A drive's related rows, counted by the store (migration 0013)")
struct RelatedRowCountTests {
    /// Every uuid in `value`, however deep: mounts, tags, jobs and snapshots are rendered as
    /// references (or, for a page in detail, as objects) that carry one.
    static func uuids(_ value: JSONValue?) -> Set<String> {
        switch value {
        case .string(let text)? where text.count == 36 && text.filter({ $0 == "-" }).count == 4: [text]
        case .array(let items)?: items.reduce(into: []) { $0.formUnion(uuids($1)) }
        case .object(let fields)?: fields.values.reduce(into: []) { $0.formUnion(uuids($1)) }
        default: []
        }
    }

    /// The related rows of `drive` as its single `GET` and the unfiltered page render them.
    static func related(_ env: TestEnv, _ drive: String) async throws -> [String: Set<String>] {
        let single = try #require(try await env.get("/api/2.0/drives/\(drive)/").json)
        let page = try await env.get("/api/2.0/drives/detail/?limit=0").objects
        let listed = try #require(page.first { $0["uuid"]?.stringValue == drive })
        var related: [String: Set<String>] = [:]
        for field in ["mounted_on", "tags", "jobs", "snapshots"] {
            related[field] = uuids(single[field])
            #expect(uuids(listed[field]) == related[field], "\(field) of \(drive): the page and the drive differ")
        }
        related["licenses"] = Set((single["licenses"]?.arrayValue ?? []).compactMap { $0["license"]?["resource_uri"]?.stringValue })
        return related
    }

    /// The counts the triggers keep against a recount: `integrityCheck` on SQLite (through a
    /// connection of its own, as another process would), `countsCheck` on PostgreSQL.
    static func countsHold(_ env: TestEnv, _ path: String) async throws {
        switch env.backend {
        case .sqlite:
            let database = try AppDatabase.open(path: path)
            defer { try? database.close() }
            #expect(try database.integrityCheck() == "ok")
        case .postgres(let database):
            #expect(try await database.countsCheck() == "ok")
        }
    }

    @Test("mounts, tags, licenses, jobs and snapshots come and go, and a state load brings them back: reads show each")
    func relatedRowsFollowEveryChange() async throws {
        let path = TestDatabase.temporaryPath()
        defer { TestDatabase.remove(path) }
        try await withDrivesd(path: path) { env in
            let a = try await env.createDrive(name: "a", extra: #", "allow_multimount": true"#)
            let b = try await env.createDrive(name: "b", extra: #", "licenses": [{"license": 12}]"#)
            let c = try await env.createDrive(name: "c")
            try await env.tick()
            let s1 = try await env.createServer(name: "s1", drives: "[\(TestEnv.mount(a)), \(TestEnv.mount(b, "0:1"))]")
            let s2 = try await env.createServer(name: "s2", drives: "[\(TestEnv.mount(a))]")
            let t1 = try #require(
                try await env.request(.post, "/api/2.0/tags/", body: #"{"objects": [{"name": "t1", "resources": ["\#(a)", "\#(c)"]}]}"#)
                    .first?["uuid"]?.stringValue)
            let t2 = try #require(
                try await env.request(.post, "/api/2.0/tags/", body: #"{"objects": [{"name": "t2", "resources": ["\#(a)"]}]}"#)
                    .first?["uuid"]?.stringValue)
            let snapshot = try #require(
                try await env.request(.post, "/api/2.0/snapshots/", body: #"{"objects": [{"drive": "\#(b)"}]}"#).first?["uuid"]?.stringValue)
            let clone = try await env.request(.post, "/api/2.0/drives/\(c)/action/?do=clone")
            try #require(clone.code == 202)
            let job = try #require(clone.first?["jobs"]?.arrayValue?.first?["uuid"]?.stringValue)
            try await env.tick()

            var ra = try await Self.related(env, a)
            var rb = try await Self.related(env, b)
            var rc = try await Self.related(env, c)
            #expect(ra["mounted_on"] == [s1, s2])
            #expect(ra["tags"] == [t1, t2])
            #expect(rb["mounted_on"] == [s1])
            #expect(rb["licenses"] == ["/api/2.0/licenses/12/"])
            #expect(rb["snapshots"] == [snapshot])
            #expect(rc["tags"] == [t1])
            #expect(rc["jobs"] == [job])
            try await Self.countsHold(env, path)

            let admin: HTTPFields = [.authorization: TestEnv.adminAuthorization]
            try #require(try await env.request(.post, "/_drivesd/states", body: #"{"name": "related"}"#, headers: admin).code == 201)
            let saved = (try await Self.related(env, a), try await Self.related(env, b), try await Self.related(env, c))

            // Each relation goes, one at a time; the others stay.
            try #require(try await env.request(.delete, "/api/2.0/servers/\(s2)/").code == 204)
            ra = try await Self.related(env, a)
            #expect(ra["mounted_on"] == [s1])
            #expect(ra["tags"] == [t1, t2])
            try #require(try await env.request(.put, "/api/2.0/tags/\(t1)/", body: #"{"name": "t1", "resources": ["\#(c)"]}"#).code == 200)
            ra = try await Self.related(env, a)
            #expect(ra["tags"] == [t2])
            #expect(try await Self.related(env, c)["tags"] == [t1])
            try #require(try await env.request(.delete, "/api/2.0/tags/\(t2)/").code == 204)
            #expect(try await Self.related(env, a)["tags"] == [])
            try #require(try await env.request(.delete, "/api/2.0/snapshots/\(snapshot)/").code == 204)
            try await env.tick()
            rb = try await Self.related(env, b)
            #expect(rb["snapshots"] == [])
            #expect(rb["licenses"] == ["/api/2.0/licenses/12/"])
            #expect(rb["mounted_on"] == [s1])
            // A server whose drives are replaced: b leaves, c comes.
            try #require(try await env.putServerDrives(s1, "[\(TestEnv.mount(a)), \(TestEnv.mount(c, "0:1"))]").code == 200)
            #expect(try await Self.related(env, b)["mounted_on"] == [])
            rc = try await Self.related(env, c)
            #expect(rc["mounted_on"] == [s1])
            #expect(rc["jobs"] == [job])
            try await Self.countsHold(env, path)

            // The load brings every relation back as it was saved.
            try #require(try await env.request(.post, "/_drivesd/states/related/load", headers: admin).code == 200)
            #expect(try await Self.related(env, a) == saved.0)
            #expect(try await Self.related(env, b) == saved.1)
            #expect(try await Self.related(env, c) == saved.2)
            try await Self.countsHold(env, path)

            // A drive deleted with its relations leaves no count behind; the others' hold.
            try #require(try await env.request(.delete, "/api/2.0/servers/\(s1)/").code == 204)
            try #require(try await env.request(.delete, "/api/2.0/servers/\(s2)/").code == 204)
            try #require(try await env.request(.delete, "/api/2.0/drives/\(a)/").code == 204)
            #expect(try await Self.related(env, c)["tags"] == [t1])
            try await Self.countsHold(env, path)
        }
    }
}
