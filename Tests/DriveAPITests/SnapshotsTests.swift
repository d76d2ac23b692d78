import DriveAPI
import DriveContent
import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Snapshots (decision 16, contract §1, S1–S14).
@Suite struct SnapshotsTests {
    func snapshot(_ env: TestEnv, of drive: String, body extra: String = "", as account: Account? = nil) async throws -> JSONValue {
        let reply = try await env.request(.post, "/api/2.0/snapshots/", body: #"{"objects": [{"drive": "\#(drive)"\#(extra)}]}"#, as: account)
        try #require(reply.code == 201, "snapshot: \(reply.text)")
        return try #require(reply.first)
    }

    func idleDrive(_ env: TestEnv, size: Int64 = 1_073_741_824, as account: Account? = nil) async throws -> String {
        let uuid = try await env.createDrive(size: size, as: account)
        try await env.tick()
        return uuid
    }

    @Test func aSnapshotHasTheTwelveKeysAndGoesFromCreatingToAvailable() async throws {
        try await withDrivesd { env in
            let drive = try await idleDrive(env)
            let before = Date()
            let made = try await snapshot(env, of: drive, body: #", "name": "first", "meta": {"key": "val"}"#)
            #expect(Set(made.objectValue?.keys ?? [:].keys) == [
                "allocated_size", "drive", "grantees", "meta", "name", "owner", "permissions", "resource_uri", "status", "tags",
                "timestamp", "uuid",
            ])
            #expect(made["status"] == .string("creating"))
            #expect(made["allocated_size"] == .null)
            #expect(made["drive"] == .object(["resource_uri": .string("/api/2.0/drives/\(drive)/"), "uuid": .string(drive)]))
            #expect(made["name"] == .string("first"))
            #expect(made["meta"] == .object(["key": .string("val")]))
            let uuid = try #require(made["uuid"]?.stringValue)
            #expect(made["resource_uri"] == .string("/api/2.0/snapshots/\(uuid)/"))
            let timestamp = try #require(made["timestamp"]?.stringValue)
            #expect(timestamp.count == 32 && timestamp.hasSuffix("+00:00") && timestamp.dropFirst(10).hasPrefix(" "))
            #expect(timestamp.hasPrefix(SnapshotNaming.timestamp(before).prefix(10)))
            try await env.tick()
            let available = try await env.get("/api/2.0/snapshots/\(uuid)/")
            #expect(available.json?["status"] == .string("available"))
            #expect(available.json?["allocated_size"] == .int(0))
            #expect(available.json?["timestamp"] == .string(timestamp))
            // The default name: <drive uuid>__<date>__<HH_MM_SS>.
            let unnamed = try await snapshot(env, of: drive)
            let name = try #require(unnamed["name"]?.stringValue)
            #expect(name.hasPrefix("\(drive)__") && name.count == drive.count + 2 + 10 + 2 + 8)
        }
    }

    @Test func theDriveListsItsSnapshotsNewestFirstAndTheListsFilterByDrive() async throws {
        try await withDrivesd { env in
            let drive = try await idleDrive(env)
            let other = try await idleDrive(env)
            let first = try #require(try await snapshot(env, of: drive)["uuid"]?.stringValue)
            let second = try #require(try await snapshot(env, of: drive, body: #", "name": "b""#)["uuid"]?.stringValue)
            let foreign = try #require(try await snapshot(env, of: other, body: #", "name": "a""#)["uuid"]?.stringValue)
            let refs = try await env.get("/api/2.0/drives/\(drive)/").json?["snapshots"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue }
            #expect(refs == [second, first])
            for path in ["/api/2.0/snapshots/?drive=\(drive)", "/api/2.0/snapshots/detail/?drive=\(drive)"] {
                let list = try await env.get(path)
                #expect(list.objects.compactMap { $0["uuid"]?.stringValue } == [second, first])
                #expect(list.objects.first?["status"] != nil)  // full objects on both lists
            }
            #expect(try await env.get("/api/2.0/snapshots/").objects.compactMap { $0["uuid"]?.stringValue } == [foreign, second, first])
            let byName = try await env.get("/api/2.0/snapshots/?order_by=name&limit=2").objects.compactMap { $0["uuid"]?.stringValue }
            // The unnamed one's default name starts with its drive's uuid (digits sort first).
            #expect(byName == [first, foreign])
            #expect(try await env.get("/api/2.0/snapshots/?order_by=timestamp").objects.first?["uuid"] == .string(first))
            #expect(try await env.get("/api/2.0/snapshots/?order_by=size").code == 400)
            #expect(try await env.get("/api/2.0/snapshots/?name=b").totalCount == 1)
            #expect(try await env.get("/api/2.0/snapshots/?fields=name").objects.first == .object(["name": .string("a")]))
            let capabilities = try await env.get("/api/2.0/capabilities/").json?["snapshots"]
            #expect(capabilities == .object(["current": .int(3), "max": .int(700), "max_per_drive": .int(90)]))
            #expect(try await env.get("/api/2.0/capabilities/", as: env.bob).json?["snapshots"]?["current"] == .int(0))
        }
    }

    @Test func whichDrivesCanBeSnapshotted() async throws {
        try await withDrivesd { env in
            let creating = try await env.createDrive()
            let refused = try await env.request(.post, "/api/2.0/snapshots/", body: #"{"drive": "\#(creating)"}"#)
            #expect(refused.code == 403)
            #expect(refused.error.message == #"Cannot snapshot drive in state "creating". Drive should be in state "['unmounted', 'mounted']""#)
            try await env.tick()
            let ephemeral = try await env.createDrive(extra: #", "storage_type": "local_nvme""#)
            try await env.tick()
            #expect(try await env.request(.post, "/api/2.0/snapshots/", body: #"{"drive": "\#(ephemeral)"}"#).code == 403)
            let library = try #require(try await env.get("/api/2.0/libdrives/?limit=1").objects.first?["uuid"]?.stringValue)
            #expect(try await env.request(.post, "/api/2.0/snapshots/", body: #"{"drive": "\#(library)"}"#).code == 403)
            #expect(try await env.request(.post, "/api/2.0/snapshots/", body: #"{"drive": "\#(creating)"}"#, as: env.bob).code == 404)
            let missing = try await env.request(.post, "/api/2.0/snapshots/", body: #"{"name": "x"}"#)
            #expect(missing.code == 400 && missing.error.point == "drive")
            // All or nothing: one refusal, no snapshot.
            let mixed = try await env.request(
                .post, "/api/2.0/snapshots/", body: #"[{"drive": "\#(creating)"}, {"drive": "\#(ephemeral)"}]"#)
            #expect(mixed.code == 403)
            #expect(try await env.get("/api/2.0/snapshots/").totalCount == 0)
            // A mounted drive on a running server can be snapshotted (S3).
            let server = try await env.createServer(drives: #"[{"boot_order": 1, "dev_channel": "0:0", "device": "virtio", "drive": "\#(creating)"}]"#)
            #expect(try await env.request(.post, "/api/2.0/servers/\(server)/action/?do=start").code == 202)
            try await env.tick()
            #expect(try await env.request(.post, "/api/2.0/snapshots/", body: #"{"drive": {"uuid": "\#(creating)"}}"#).code == 201)
        }
    }

    @Test func editDeleteAndTheirRefusals() async throws {
        try await withDrivesd { env in
            let drive = try await idleDrive(env)
            let other = try await idleDrive(env)
            let made = try await snapshot(env, of: drive, body: #", "name": "n", "meta": {"key": "val"}"#)
            let uuid = try #require(made["uuid"]?.stringValue)
            // pycloudsigma sends back the whole create response, read-only keys included.
            var body = try #require(made.objectValue)
            body["name"] = .string("renamed")
            body["meta"] = .object(["key": .string("val_changed"), "new_key": .string("v")])
            let edited = try await env.request(.put, "/api/2.0/snapshots/\(uuid)/", body: JSONValue.object(body).jsonString)
            #expect(edited.code == 200)
            #expect(edited.json?["name"] == .string("renamed"))
            #expect(edited.json?["meta"] == .object(["key": .string("val_changed"), "new_key": .string("v")]))
            #expect(edited.json?["timestamp"] == made["timestamp"])
            // Absent keys keep their values; another drive is refused.
            let kept = try await env.request(.put, "/api/2.0/snapshots/\(uuid)/", body: #"{"name": "again"}"#)
            #expect(kept.json?["meta"]?["new_key"] == .string("v"))
            let moved = try await env.request(.put, "/api/2.0/snapshots/\(uuid)/", body: #"{"drive": "\#(other)"}"#)
            #expect(moved.code == 400 && moved.error.point == "drive")
            // Deleting a creating snapshot: 403 (S7); available: 204, then 404.
            let deleting = try await env.request(.delete, "/api/2.0/snapshots/\(uuid)/")
            #expect(deleting.code == 403)
            #expect(deleting.error.message == #"Cannot delete snapshot in state "creating". Snapshot should be in state "available""#)
            try await env.tick()
            #expect(try await env.request(.delete, "/api/2.0/snapshots/\(uuid)/").code == 204)
            #expect(try await env.get("/api/2.0/snapshots/\(uuid)/").code == 404)
            // Bulk PUT and DELETE, all or nothing.
            let a = try #require(try await snapshot(env, of: drive)["uuid"]?.stringValue)
            let b = try #require(try await snapshot(env, of: drive)["uuid"]?.stringValue)
            let bulk = try await env.request(.put, "/api/2.0/snapshots/", body: #"[{"uuid": "\#(a)", "name": "A"}, {"uuid": "\#(b)", "name": "B"}]"#)
            #expect(bulk.objects.compactMap { $0["name"]?.stringValue } == ["A", "B"])
            #expect(try await env.request(.delete, "/api/2.0/snapshots/", body: #"[{"uuid": "\#(a)"}, {"uuid": "\#(b)"}]"#).code == 403)
            #expect(try await env.get("/api/2.0/snapshots/").totalCount == 2)
            try await env.tick()
            #expect(try await env.request(.delete, "/api/2.0/snapshots/", body: #"{"objects": [{"uuid": "\#(a)"}, {"uuid": "\#(b)"}]}"#).code == 204)
            #expect(try await env.get("/api/2.0/snapshots/").totalCount == 0)
        }
    }

    @Test func deletingADriveDeletesItsSnapshotsInAnyStatus() async throws {
        try await withDrivesd { env in
            let drive = try await idleDrive(env)
            let available = try #require(try await snapshot(env, of: drive)["uuid"]?.stringValue)
            try await env.tick()
            let creating = try #require(try await snapshot(env, of: drive)["uuid"]?.stringValue)
            #expect(try await env.request(.delete, "/api/2.0/drives/\(drive)/").code == 204)
            #expect(try await env.get("/api/2.0/snapshots/\(available)/").code == 404)
            #expect(try await env.get("/api/2.0/snapshots/\(creating)/").code == 404)
            let list = try await env.get("/api/2.0/snapshots/detail/?drive=\(drive)")
            #expect(list.code == 200 && list.totalCount == 0)
            #expect(try await env.tick().isEmpty)  // its transition went with it
        }
    }

    @Test func aCloneOfASnapshotHoldsItsBytesAtItsSize() async throws {
        try await withDrivesd(settings: ContentTests.settings) { env in
            let data = ContentTests.random(2_000_000, seed: 31)
            let reply = try await env.send(
                .post, "/api/2.0/drives/upload/", bytes: data, headers: [.contentLength: String(data.count)])
            let drive = String(decoding: reply.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let before = try await env.api.stores.content.stats()
            let snap = try #require(try await snapshot(env, of: drive, body: #", "name": "golden""#)["uuid"]?.stringValue)
            #expect(try await env.request(.post, "/api/2.0/snapshots/\(snap)/action/?do=clone").code == 403)  // creating (S8)
            try await env.tick()
            // The drive grows afterwards: the clone still gets the snapshot-time size.
            #expect(
                try await env.request(
                    .post, "/api/2.0/drives/\(drive)/action/?do=resize", body: #"{"name": "d", "size": 16777216, "media": "disk"}"#
                ).code == 202)
            try await env.tick()
            let clone = try await env.request(.post, "/api/2.0/snapshots/\(snap)/action/?do=clone", body: "{}")
            #expect(clone.code == 202)
            #expect(clone.json?["objects"] == nil)  // a bare drive (S1)
            #expect(clone.json?["status"] == .string("cloning_dst"))
            #expect(clone.json?["name"] == .string("golden"))
            #expect(clone.json?["size"] == .int(Int64(ContentTests.minimum)))
            #expect(clone.json?["jobs"]?.arrayValue?.count == 1)
            let uuid = try #require(clone.json?["uuid"]?.stringValue)
            #expect(try await env.status(drive) == "unmounted")  // the source drive does not change
            try await env.tick()
            let bytes = try await env.send(.get, "/api/2.0/drives/\(uuid)/download/", headers: [.range: "bytes=0-\(data.count - 1)"])
            #expect(sameBytes(bytes.body, data))
            let after = try await env.api.stores.content.stats()
            #expect(after.storedBytes == before.storedBytes)
            // The snapshot keeps the bytes after the drive is deleted... with it (cascade), but
            // the clone keeps them.
            #expect(try await env.request(.delete, "/api/2.0/drives/\(drive)/").code == 204)
            _ = try await env.api.outboxRunner.drain()
            let still = try await env.send(.get, "/api/2.0/drives/\(uuid)/download/", headers: [.range: "bytes=0-99"])
            #expect(sameBytes(still.body, Array(data[0..<100])))
            let bigger = try await env.request(.post, "/api/2.0/snapshots/\(snap)/action/?do=clone", body: #"{"size": 1}"#)
            #expect(bigger.code == 404)  // the snapshot went with its drive
        }
    }

    @Test func snapshotTransitionsCanBeHeldAndAdvanced() async throws {
        try await withDrivesd { env in
            let admin: HTTPFields = [.authorization: "Basic " + Data("admin:admin".utf8).base64EncodedString()]
            #expect(
                try await env.request(.put, "/_drivesd/transitions/snapshot", body: #"{"mode": "manual"}"#, authenticated: false, headers: admin)
                    .code == 200)
            let drive = try await idleDrive(env)
            let uuid = try #require(try await snapshot(env, of: drive)["uuid"]?.stringValue)
            try await env.api.worker.tick(now: Date().addingTimeInterval(86400))
            #expect(try await env.get("/api/2.0/snapshots/\(uuid)/").json?["status"] == .string("creating"))
            let other = try #require(try await snapshot(env, of: drive)["uuid"]?.stringValue)
            // By uuid: that snapshot only.
            let one = try await env.request(.post, "/_drivesd/advance", body: #"{"uuid": "\#(uuid)"}"#, authenticated: false, headers: admin)
            #expect(one.json?["released"] == .int(1))
            try await env.tick()
            #expect(try await env.get("/api/2.0/snapshots/\(uuid)/").json?["status"] == .string("available"))
            #expect(try await env.get("/api/2.0/snapshots/\(other)/").json?["status"] == .string("creating"))
            let released = try await env.request(
                .post, "/_drivesd/advance", body: #"{"operation": "snapshot"}"#, authenticated: false, headers: admin)
            #expect(released.json?["released"] == .int(1))
            try await env.tick()
            #expect(try await env.get("/api/2.0/snapshots/\(other)/").json?["status"] == .string("available"))
        }
    }

    @Test func tagsOnSnapshotsBothWays() async throws {
        try await withDrivesd { env in
            let drive = try await idleDrive(env)
            let tag = try #require(try await env.request(.post, "/api/2.0/tags/", body: #"{"name": "keep"}"#).first?["uuid"]?.stringValue)
            let uuid = try #require(try await snapshot(env, of: drive, body: #", "tags": ["\#(tag)"]"#)["uuid"]?.stringValue)
            let resources = try await env.get("/api/2.0/tags/\(tag)/").json?["resources"]?.arrayValue
            #expect(resources?.first?["res_type"] == .string("snapshots"))
            #expect(resources?.first?["uuid"] == .string(uuid))
            #expect(try await env.get("/api/2.0/snapshots/?tag=\(tag)").totalCount == 1)
            // From the tag's side.
            let other = try #require(try await snapshot(env, of: drive)["uuid"]?.stringValue)
            #expect(try await env.request(.put, "/api/2.0/tags/\(tag)/", body: #"{"name": "keep", "resources": ["\#(other)"]}"#).code == 200)
            #expect(try await env.get("/api/2.0/snapshots/\(other)/").json?["tags"]?.arrayValue?.first?["uuid"] == .string(tag))
            #expect(try await env.get("/api/2.0/snapshots/\(uuid)/").json?["tags"] == .array([]))
            try await env.tick()
            #expect(try await env.request(.delete, "/api/2.0/snapshots/\(other)/").code == 204)
            #expect(try await env.get("/api/2.0/tags/\(tag)/").json?["resources"] == .array([]))
        }
    }

    @Test func theSchemaIsTheRealAPIs() async throws {
        try await withDrivesd { env in
            let schema = try await env.get("/api/2.0/snapshots/schema/")
            #expect(schema.code == 200)
            let (_, captured) = try fixture("response_snapshot_schema")
            #expect(schema.json == captured)
        }
    }
}
