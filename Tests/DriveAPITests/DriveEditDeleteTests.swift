import DriveAPI
import DriveModel
import Foundation
import HTTPTypes
import Testing

@Suite("Drive edit, resize and delete")
struct DriveEditDeleteTests {
    @Test("PUT answers 200 with the bare object; name and media change at once")
    func editNameAndMedia() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive(name: "before")
            try await env.tick()
            let reply = try await env.request(
                .put, "/api/2.0/drives/\(uuid)/", body: #"{"media": "cdrom", "name": "test_drive_y", "size": 1073741824}"#)
            #expect(reply.code == 200)
            #expect(reply.json?["objects"] == nil)
            #expect(reply.json?["name"] == .string("test_drive_y"))
            #expect(reply.json?["media"] == .string("cdrom"))
            #expect(reply.json?["status"] == .string("unmounted"))
            #expect(try await env.get("/api/2.0/drives/\(uuid)/").json?["media"] == .string("cdrom"))
        }
    }

    @Test("PUT keeps absent keys, replaces meta wholesale and ignores readonly keys sent back")
    func putSemantics() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive(
                name: "m", extra: #", "meta": {"a": "1", "b": "2"}, "allow_multimount": true, "affinities": ["ssd"]"#)
            try await env.tick()
            // Terraform's update: no meta, no allow_multimount: both keep their values.
            let partial = try await env.request(
                .put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "m2", "size": 1073741824, "media": "disk", "storage_type": "dssd", "tags": []}"#)
            #expect(partial.code == 200)
            #expect(partial.json?["meta"] == .object(["a": .string("1"), "b": .string("2")]))
            #expect(partial.json?["allow_multimount"] == .bool(true))
            #expect(partial.json?["affinities"] == .array([.string("ssd")]))
            // pycloudsigma's update: the whole GET body back, readonly keys included, with new meta.
            var full = try #require(try await env.get("/api/2.0/drives/\(uuid)/").json?.objectValue)
            full["meta"] = .object(["description": .string("value\nwith\nnew lines")])
            full["status"] = .string("creating")
            full["owner"] = .object(["uuid": .string(env.bob.user.uuid)])
            let updated = try await env.request(.put, "/api/2.0/drives/\(uuid)/", body: JSONValue.object(full).jsonString)
            #expect(updated.code == 200)
            #expect(updated.json?["meta"] == .object(["description": .string("value\nwith\nnew lines")]))
            #expect(updated.json?["status"] == .string("unmounted"))
            #expect(updated.json?["owner"]?["uuid"] == .string(env.alice.user.uuid))
        }
    }

    @Test("PUT growing size shows resizing with the old size; the new size appears when it returns to unmounted")
    func resizeByPut() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive(size: 2_147_483_648)
            try await env.tick()
            let reply = try await env.request(
                .put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "drive", "size": 5368709120, "media": "disk"}"#)
            #expect(reply.code == 200)
            #expect(reply.json?["status"] == .string("resizing"))
            #expect(reply.json?["size"] == .int(2_147_483_648))
            // A second resize while resizing is refused.
            let again = try await env.request(
                .put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "drive", "size": 6442450944, "media": "disk"}"#)
            #expect(again.code == 403)
            #expect(again.error.type == "permission")
            // Renaming while resizing is fine (same size).
            let rename = try await env.request(
                .put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "renamed", "size": 2147483648, "media": "disk"}"#)
            #expect(rename.code == 200)
            #expect(rename.json?["status"] == .string("resizing"))
            try await env.tick()
            let after = try await env.get("/api/2.0/drives/\(uuid)/")
            #expect(after.json?["status"] == .string("unmounted"))
            #expect(after.json?["size"] == .int(5_368_709_120))
            #expect(after.json?["name"] == .string("renamed"))
        }
    }

    @Test("resize action answers 202 {objects:[drive]} in resizing; fails loudly where PUT would ignore")
    func resizeAction() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive(size: 2_147_483_648)
            let early = try await env.request(
                .post, "/api/2.0/drives/\(uuid)/action/?do=resize", body: #"{"name": "drive", "size": 4294967296, "media": "disk"}"#)
            #expect(early.code == 403)
            #expect(early.error.message == #"Cannot resize drive in state "creating". Drive should be in state "['unmounted', 'mounted']""#)
            try await env.tick()
            let reply = try await env.request(
                .post, "/api/2.0/drives/\(uuid)/action/?do=resize", body: #"{"name": "drive", "size": 4294967296, "media": "disk"}"#)
            #expect(reply.code == 202)
            #expect(reply.first?["status"] == .string("resizing"))
            #expect(reply.first?["size"] == .int(2_147_483_648))
            try await env.tick()
            #expect(try await env.get("/api/2.0/drives/\(uuid)/").json?["size"] == .int(4_294_967_296))
            let unknown = try await env.request(.post, "/api/2.0/drives/\(uuid)/action/?do=explode", body: "{}")
            #expect(unknown.code == 400)
            #expect(unknown.error.point == "do")
        }
    }

    @Test("shrinking is 400 on size; storage_type cannot change; name, size and media are required")
    func updateValidation() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive(size: 2_147_483_648)
            try await env.tick()
            let shrink = try await env.request(
                .put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "drive", "size": 1073741824, "media": "disk"}"#)
            #expect(shrink.code == 400)
            #expect(shrink.error.point == "size")
            let shrinkAction = try await env.request(
                .post, "/api/2.0/drives/\(uuid)/action/?do=resize", body: #"{"name": "drive", "size": 1073741824, "media": "disk"}"#)
            #expect(shrinkAction.code == 400)
            let type = try await env.request(
                .put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "drive", "size": 2147483648, "media": "disk", "storage_type": "nvme"}"#)
            #expect(type.code == 400)
            #expect(type.error.point == "storage_type")
            for (missing, body) in [
                ("name", #"{"size": 2147483648, "media": "disk"}"#), ("size", #"{"name": "d", "media": "disk"}"#),
                ("media", #"{"name": "d", "size": 2147483648}"#),
            ] {
                let reply = try await env.request(.put, "/api/2.0/drives/\(uuid)/", body: body)
                #expect(reply.code == 400)
                #expect(reply.error.point == missing)
            }
            let tooBig = try await env.request(
                .put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "drive", "size": 99999999999999999, "media": "disk"}"#)
            #expect(tooBig.code == 400)
            #expect(tooBig.error.point == "size")
            // Nothing of the refused updates was applied.
            let drive = try await env.get("/api/2.0/drives/\(uuid)/").json
            #expect(drive?["size"] == .int(2_147_483_648))
            #expect(drive?["status"] == .string("unmounted"))
        }
    }

    @Test("PUT /drives/ is a bulk update by uuid, all or none")
    func bulkUpdate() async throws {
        try await withDrivesd { env in
            let a = try await env.createDrive(name: "a")
            let b = try await env.createDrive(name: "b")
            try await env.tick()
            let ok = try await env.request(
                .put, "/api/2.0/drives/",
                body: #"{"objects": [{"uuid": "\#(a)", "name": "a2", "size": 1073741824, "media": "disk"}, {"uuid": "\#(b)", "name": "b2", "size": 1073741824, "media": "cdrom"}]}"#
            )
            #expect(ok.code == 200)
            #expect(ok.objects.compactMap { $0["name"]?.stringValue } == ["a2", "b2"])
            let missing = UUID().uuidString.lowercased()
            let refused = try await env.request(
                .put, "/api/2.0/drives/",
                body: #"[{"uuid": "\#(a)", "name": "a3", "size": 1073741824, "media": "disk"}, {"uuid": "\#(missing)", "name": "x", "size": 1073741824, "media": "disk"}]"#
            )
            #expect(refused.code == 404)
            #expect(try await env.get("/api/2.0/drives/\(a)/").json?["name"] == .string("a2"))
            let noUUID = try await env.request(.put, "/api/2.0/drives/", body: #"[{"name": "x", "size": 1073741824, "media": "disk"}]"#)
            #expect(noUUID.code == 400)
            #expect(noUUID.error.point == "uuid")
        }
    }

    @Test("DELETE answers 204 with an empty body; the drive is 404 at once")
    func deleteOne() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive()
            let early = try await env.request(.delete, "/api/2.0/drives/\(uuid)/")
            #expect(early.code == 403)
            #expect(early.error.type == "permission")
            try await env.tick()
            let reply = try await env.request(.delete, "/api/2.0/drives/\(uuid)/")
            #expect(reply.code == 204)
            #expect(reply.text.isEmpty)
            #expect(try await env.get("/api/2.0/drives/\(uuid)/").code == 404)
            #expect(try await env.request(.delete, "/api/2.0/drives/\(uuid)/").code == 404)
            #expect(try await env.get("/api/2.0/drives/").totalCount == 0)
        }
    }

    @Test("bulk DELETE is all or nothing")
    func bulkDelete() async throws {
        try await withDrivesd { env in
            let a = try await env.createDrive(name: "a")
            let b = try await env.createDrive(name: "b")
            let c = try await env.createDrive(name: "c")
            try await env.tick()
            let missing = UUID().uuidString.lowercased()
            let refused = try await env.request(
                .delete, "/api/2.0/drives/", body: #"{"objects": [{"uuid": "\#(a)"}, {"uuid": "\#(missing)"}]}"#)
            #expect(refused.code == 404)
            #expect(try await env.get("/api/2.0/drives/").totalCount == 3)
            let ok = try await env.request(
                .delete, "/api/2.0/drives/", body: #"{"objects": [{"uuid": "\#(a)"}, {"uuid": "\#(b)"}]}"#)
            #expect(ok.code == 204)
            let left = try await env.get("/api/2.0/drives/").objects.compactMap { $0["uuid"]?.stringValue }
            #expect(left == [c])
        }
    }
}
