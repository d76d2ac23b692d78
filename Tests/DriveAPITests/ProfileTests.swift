import DriveAPI
import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Testing

/// `/profile/` and clone naming (reference §3.9.1, the captured `drive_clone_naming_*` dumps).
@Suite struct ProfileTests {
    /// 2014-06-05 09:45:56 UTC, the moment of the docs' examples.
    static let docsMoment = Date(timeIntervalSince1970: 1_401_961_556)

    @Test("each strategy names a clone as the docs' examples do, and falls back to COUNTER on a current date")
    func strategies() {
        let now = Self.docsMoment
        #expect(CloneNaming.none.name(for: "test_drive_x", now: now) == "test_drive_x")
        #expect(CloneNaming.counter.name(for: "test_drive_x", now: now) == "test_drive_x_1")
        #expect(CloneNaming.date.name(for: "test_drive_x", now: now) == "test_drive_x-2014-06-05")
        #expect(CloneNaming.timestamp.name(for: "test_drive_x", now: now) == "test_drive_x-2014-06-05 09:45:56")
        // COUNTER increments an existing trailing number.
        #expect(CloneNaming.counter.name(for: "test_drive_x_1", now: now) == "test_drive_x_2")
        #expect(CloneNaming.counter.name(for: "web_9", now: now) == "web_10")
        #expect(CloneNaming.counter.name(for: "disk5", now: now) == "disk5_1")
        #expect(CloneNaming.counter.name(for: "x_", now: now) == "x__1")
        #expect(CloneNaming.counter.name(for: "", now: now) == "_1")
        #expect(CloneNaming.counter.name(for: "n_99999999999999999999999", now: now) == "n_99999999999999999999999_1")
        // The date (or timestamp) already current: COUNTER, the date kept.
        #expect(CloneNaming.date.name(for: "test_drive_x-2014-06-05", now: now) == "test_drive_x-2014-06-05_1")
        #expect(CloneNaming.date.name(for: "test_drive_x-2014-06-05_1", now: now) == "test_drive_x-2014-06-05_2")
        #expect(CloneNaming.timestamp.name(for: "a-2014-06-05 09:45:56", now: now) == "a-2014-06-05 09:45:56_1")
        // Another day's (or second's) suffix is not current: the new one is appended.
        #expect(CloneNaming.date.name(for: "x-2014-06-04", now: now) == "x-2014-06-04-2014-06-05")
        #expect(CloneNaming.timestamp.name(for: "a-2014-06-05 09:45:55", now: now) == "a-2014-06-05 09:45:55-2014-06-05 09:45:56")
    }

    @Test("GET /profile/ answers the captured profile's keys with the account's uuid and email; DELETE is 405")
    func defaults() async throws {
        try await withDrivesd { env in
            let reply = try await env.get("/api/2.0/profile/")
            #expect(reply.code == 200)
            let profile = try #require(reply.json?.objectValue)
            #expect(profile["clone_naming"] == .string("NONE"))
            #expect(profile["uuid"] == .string(env.alice.user.uuid))
            #expect(profile["email"] == .string(env.alice.user.email))
            #expect(profile["signup_time"] == .string(env.alice.user.createdAt))
            let captured = try Self.capturedProfile()
            #expect(Set(profile.keys) == Set(captured.keys))
            for (key, value) in captured where key != "tax_name" && key != "tax_rate" {
                #expect(Self.sameType(profile[key], value), "\(key): \(String(describing: profile[key])) vs captured \(value)")
            }
            let delete = try await env.request(.delete, "/api/2.0/profile/")
            #expect(delete.code == 405)
            #expect(delete.error.type == "permission")
            let schema = try await env.get("/api/2.0/profile/schema/")
            #expect(schema.code == 200)
            #expect(schema.json?["fields"]?["clone_naming"]?["choices"]?.arrayValue?.count == 4)
            #expect(Set(schema.json?["fields"]?.objectValue?.keys.map { $0 } ?? []) == Set(captured.keys))
        }
    }

    @Test("PUT /profile/ with the captured body stores and echoes it; wrong values are 400, account fields 403, other users untouched")
    func update() async throws {
        try await withDrivesd { env in
            var body = try Self.capturedProfile()
            // The capture's account is not ours: its read-only fields are sent back as ours are.
            body["uuid"] = .string(env.alice.user.uuid)
            body["email"] = .string(env.alice.user.email)
            body["signup_time"] = .string(env.alice.user.createdAt)
            body["clone_naming"] = .string("COUNTER")
            let put = try await env.request(.put, "/api/2.0/profile/", body: JSONValue.object(body).jsonString)
            #expect(put.code == 200, "\(put.text)")
            #expect(put.json == .object(body))
            #expect(try await env.get("/api/2.0/profile/").json == .object(body))

            // A partial PUT changes what it carries.
            let partial = try await env.request(.put, "/api/2.0/profile/", body: #"{"clone_naming": "DATE", "nickname": "jd"}"#)
            #expect(partial.json?["clone_naming"] == .string("DATE"))
            #expect(partial.json?["nickname"] == .string("jd"))
            #expect(partial.json?["first_name"] == .string("John"))

            let bad = try await env.request(.put, "/api/2.0/profile/", body: #"{"clone_naming": "WEEKLY"}"#)
            #expect(bad.code == 400)
            #expect(bad.error.type == "validation")
            #expect(bad.error.point == "clone_naming")
            let wrongType = try await env.request(.put, "/api/2.0/profile/", body: #"{"clone_naming": "NONE", "key_auth": "yes"}"#)
            #expect(wrongType.code == 400)
            #expect(wrongType.error.point == "key_auth")
            let other = try await env.request(.put, "/api/2.0/profile/", body: #"{"uuid": "\#(env.bob.user.uuid)"}"#)
            #expect(other.code == 403)
            #expect(try await env.request(.put, "/api/2.0/profile/", body: "[1]").code == 400)
            #expect(try await env.request(.put, "/api/2.0/profile/", body: "{").code == 400)
            // Nothing of the refused PUTs was applied (the first refused one carried NONE).
            let after = try await env.get("/api/2.0/profile/").json
            #expect(after?["clone_naming"] == .string("DATE"))
            #expect(after?["key_auth"] == .bool(false))
            // Bob's profile is his own.
            let bobs = try await env.get("/api/2.0/profile/", as: env.bob).json
            #expect(bobs?["clone_naming"] == .string("NONE"))
            #expect(bobs?["first_name"] == .string(""))
            #expect(bobs?["uuid"] == .string(env.bob.user.uuid))
        }
    }

    @Test("drive, library and snapshot clones made without a name follow the profile; a given name is kept")
    func clonesFollowTheProfile() async throws {
        try await withDrivesd { env in
            let source = try await env.createDrive(name: "test_drive_x")
            try await env.tick()
            func clone(_ path: String, body: String? = nil, as account: Account? = nil) async throws -> String? {
                let reply = try await env.request(.post, path, body: body, as: account)
                try #require(reply.code == 202, "\(path): \(reply.text)")
                try await env.tick()
                return (reply.first ?? reply.json)?["name"]?.stringValue
            }
            let drivePath = "/api/2.0/drives/\(source)/action/?do=clone"
            #expect(try await clone(drivePath) == "test_drive_x")  // NONE, the default
            _ = try await env.request(.put, "/api/2.0/profile/", body: #"{"clone_naming": "COUNTER"}"#)
            // The captured request: media and storage type, no name.
            #expect(try await clone(drivePath, body: #"{"affinities": [], "media": "cdrom", "storage_type": "dssd"}"#) == "test_drive_x_1")
            #expect(try await clone(drivePath, body: #"{"name": "given"}"#) == "given")
            #expect(try await clone("/api/2.0/libdrives/6d53b92c-42dc-472b-a7b6-7021f45f377a/action/?do=clone") == "Ubuntu 22.04 LTS Server_1")
            let snap = try await env.request(.post, "/api/2.0/snapshots/", body: #"{"drive": "\#(source)", "name": "nightly_7"}"#)
            let snapUUID = try #require(snap.first?["uuid"]?.stringValue)
            try await env.tick()
            #expect(try await clone("/api/2.0/snapshots/\(snapUUID)/action/?do=clone") == "nightly_8")

            let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
            _ = try await env.request(.put, "/api/2.0/profile/", body: #"{"clone_naming": "DATE"}"#)
            let dated = try #require(try await clone(drivePath))
            #expect(dated == "test_drive_x-\(today)")
            _ = try await env.request(.put, "/api/2.0/profile/", body: #"{"clone_naming": "TIMESTAMP"}"#)
            let stamped = try #require(try await clone(drivePath))
            #expect(stamped.hasPrefix("test_drive_x-\(today) ") && stamped.count == "test_drive_x-".count + 19, "\(stamped)")

            // Bob's clones keep NONE whatever Alice chose.
            let bobs = try await env.createDrive(name: "bobs", as: env.bob)
            try await env.tick()
            #expect(try await clone("/api/2.0/drives/\(bobs)/action/?do=clone", as: env.bob) == "bobs")
        }
    }

    /// The profile captured from the real API (`response_drive_clone_naming_set_profile_to_counter`).
    static func capturedProfile() throws -> [String: JSONValue] {
        let captured = try fixture("response_drive_clone_naming_set_profile_to_counter")
        #expect(captured.status == 200)
        return try #require(captured.body?.objectValue)
    }

    static func sameType(_ a: JSONValue?, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.string?, .string), (.bool?, .bool), (.object?, .object), (.null?, .null): return true
        case (.int?, .int), (.double?, .double), (.array?, .array): return true
        default: return false
        }
    }
}
