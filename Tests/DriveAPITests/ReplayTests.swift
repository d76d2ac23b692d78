import DriveAPI
import DriveModel
import Foundation
import HTTPTypes
import Testing

/// Every request/response pair captured from the real API (`Fixtures/replay/`, a copy of
/// `shared/spec/dumps/`), replayed against a fresh drivesd (issue 19).
///
/// A pair names the real account's objects by their uuids. Before it is sent, each one it names
/// (and, for a read, each one the captured answer lists) is made here in the captured state:
/// drives with their name, size, media, storage type and status (mounted on a server when the
/// capture says so), snapshots of such drives, tags, servers, the account's IP and VLAN, a library
/// drive of the same media, a clone's job. The request then goes out with the local ids in place
/// of the captured ones, and its answer is compared with the captured one on the status code, the
/// key sets of every object (up to the keys the captures themselves disagree on, worked out from
/// all of them), the JSON type of every value, and the values of the enumerations.
@Suite struct ReplayTests {
    @Test("a captured pair replayed: same status, keys, types and enumerations", arguments: ReplayCorpus.pairs)
    func replay(_ pair: ReplayCorpus.Pair) async throws {
        if let reason = ReplayCorpus.notServed[pair.name] {
            // Recorded, so that a pair that starts to be served is replayed too.
            #expect(!reason.isEmpty)
            return
        }
        try await withDrivesd { env in
            var world = ReplayWorld(env: env)
            let request = pair.request
            // Make what the request names, then what a read's captured answer lists.
            var target = request.target
            var body = request.body
            if let (from, to) = ReplayCorpus.repairs[pair.name] {
                body = body?.replacingOccurrences(of: from, with: to)
            }
            world.preferred = ReplayCorpus.objects(in: pair.response.body)
            // Some captures answer about another object than the path names (the docs' samples
            // were stitched from several sessions): the one object answered is the state of the
            // path's (a clone's answer is a new object: not there).
            let answered = pair.response.body.map(ReplayCorpus.listedObjects) ?? []
            let pathIDs = ReplayCorpus.ids(in: target)
            if answered.count == 1, !target.contains("do=clone"), case .object(let object) = answered[0], let kind = ReplayCorpus.collection(ofObject: answered[0]),
                let pathID = pathIDs.first(where: { ReplayCorpus.collection(of: $0, in: target) == kind }),
                world.preferred[pathID] == nil
            {
                world.preferred[pathID] = object
            }
            world.resizing = pair.response.body.map(ReplayCorpus.listedObjects)?.first?["status"] == .string("resizing")
            let hints = ReplayCorpus.resourceHints(pair)
            for id in ReplayCorpus.ids(in: target) + ReplayCorpus.ids(in: body ?? "") {
                _ = try await world.local(id, hint: ReplayCorpus.collection(of: id, in: target) ?? hints[id])
            }
            if request.method == .get, let captured = pair.response.body {
                var listed: [String] = []
                for object in ReplayCorpus.listedObjects(captured) {
                    if case .string(let id)? = object["uuid"] {
                        let collection = ReplayCorpus.collection(ofObject: object) ?? ReplayCorpus.listedCollection(of: target)
                        listed.append(try await world.local(id, hint: collection))
                    }
                }
                // `/tags/{uuid}/{type}/`: what it lists carries the tag.
                let segments = (target.split(separator: "?").first ?? "").split(separator: "/").map(String.init)
                if segments.count == 5, segments[2] == "tags", let tag = world.map[segments[3]] {
                    let resources = JSONValue.array(listed.map(JSONValue.string)).jsonString
                    let put = try await env.request(.put, "/api/2.0/tags/\(tag)/", body: #"{"name": "listed", "resources": \#(resources)}"#)
                    try #require(put.code == 200, "\(put.text)")
                }
            }
            for (captured, local) in world.map.sorted(by: { $0.key.count > $1.key.count }) {
                target = target.replacingOccurrences(of: captured, with: local)
                body = body?.replacingOccurrences(of: captured, with: local)
            }
            let reply = try await env.request(request.method, target, body: body)
            #expect(reply.code == pair.response.status, "\(pair.name): \(reply.code) \(reply.text.prefix(300))")
            guard let captured = pair.response.body, reply.code == pair.response.status else { return }
            let differences = ReplayCorpus.differences(
                captured: captured, ours: reply.json ?? .null, shape: ReplayCorpus.listedCollection(of: request.target) ?? "$")
            #expect(differences.isEmpty, "\(pair.name):\n\(differences.joined(separator: "\n"))")
        }
    }

    @Test("the corpus is whole: every captured request has its response, and nearly all are replayed")
    func corpus() {
        #expect(ReplayCorpus.pairs.count == 79)
        #expect(ReplayCorpus.pairs.filter { ReplayCorpus.notServed[$0.name] == nil }.count >= 77)
        for name in ReplayCorpus.notServed.keys {
            #expect(ReplayCorpus.pairs.contains { $0.name == name }, "\(name) is not a captured pair")
        }
    }

    @Test("the comparison notices a changed key, type, enumeration or status")
    func comparisonCanFail() {
        let captured: JSONValue = .object([
            "status": .string("unmounted"), "size": .int(1), "meta": .object(["a": .string("b")]),
            "runtime": .object(["is_snapshotable": .bool(true)]), "resource_uri": .string("/api/2.0/drives/x/"),
            "uuid": .string("x"),
        ])
        #expect(ReplayCorpus.differences(captured: captured, ours: captured).isEmpty)
        var changed = captured.objectValue!
        changed["status"] = .string("mounted")
        #expect(ReplayCorpus.differences(captured: captured, ours: .object(changed)).count == 1)
        changed = captured.objectValue!
        changed["size"] = .string("1")
        #expect(ReplayCorpus.differences(captured: captured, ours: .object(changed)).count == 1)
        changed = captured.objectValue!
        changed["runtime"] = .object([:])
        #expect(ReplayCorpus.differences(captured: captured, ours: .object(changed)).count == 1)
        changed = captured.objectValue!
        changed["runtime"] = .null
        #expect(ReplayCorpus.differences(captured: captured, ours: .object(changed)).count == 1)
        changed = captured.objectValue!
        changed["extra"] = .int(1)
        #expect(ReplayCorpus.differences(captured: captured, ours: .object(changed)).count == 1)
        changed = captured.objectValue!
        changed["meta"] = .object([:])
        #expect(ReplayCorpus.differences(captured: captured, ours: .object(changed)).isEmpty, "meta is user data")
    }
}

/// The captured pairs, and what the comparison knows about them.
enum ReplayCorpus {
    struct Request: Sendable {
        let method: HTTPRequest.Method
        let target: String
        let body: String?
    }

    struct Pair: Sendable, CustomTestStringConvertible {
        let name: String
        let request: Request
        let response: (status: Int, body: JSONValue?)
        var testDescription: String { name }
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/replay")

    /// Pairs drivesd does not serve, with the reason.
    static let notServed: [String: String] = [
        "jobs_server_clone": "servers have no clone action here (README, compatibility notes)"
    ]

    /// Captured requests that are not what was sent, mended before the replay.
    static let repairs: [String: (String, String)] = [
        // The body lacks the `]` that closes `objects` (the real API answered 201, so it got one).
        "drive_storage_type": ("\"storage_type\": \"nvme\"\n        }\n}", "\"storage_type\": \"nvme\"\n        }\n    ]\n}")
    ]

    /// Keys drivesd answers that no capture has, with the reason.
    static let additions: [String: Set<String>] = [
        // The newer API renders `firewall_policy` in every NIC (gosigma's and libcloud's server
        // fixtures have it; libcloud and cscli read it); the 2014 captures predate it.
        "servers.nics[]": ["firewall_policy"]
    ]

    /// Maps whose keys are data (not part of the shape): only the keys both sides have are
    /// compared. The capabilities' storage types are the configured ones (reference §8).
    static let dataMaps: Set<String> = ["capabilities.drives"]

    /// Keys whose string values are enumerations: they must be equal.
    static let enumerations: Set<String> = [
        "status", "media", "storage_type", "res_type", "state", "operation", "image_type", "os", "device", "clone_naming",
        "conf", "model", "interface_type", "type",
    ]

    static let pairs: [Pair] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix("request_") }.sorted().compactMap { file in
            let name = String(file.dropFirst("request_".count))
            guard let request = try? parseRequest(file), let response = try? fixture("replay/response_\(name)") else { return nil }
            return Pair(name: name, request: request, response: response)
        }
    }()

    static func parseRequest(_ file: String) throws -> Request {
        let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
        let parts = text.components(separatedBy: "\n\n")
        let line = parts[0].split(separator: "\n")[0].split(separator: " ")
        let body = parts.dropFirst().joined(separator: "\n\n").trimmingCharacters(in: .whitespacesAndNewlines)
        return Request(method: HTTPRequest.Method(String(line[0]))!, target: String(line[1]), body: body.isEmpty ? nil : body)
    }

    /// Every captured object with a `resource_uri` and a `uuid`, by uuid: the one with the most
    /// keys wins (list forms are shorter), then one in a settled status (a later capture).
    static let index: [String: [String: JSONValue]] = {
        var index: [String: [String: JSONValue]] = [:]
        for pair in pairs {
            for (id, object) in objects(in: pair.response.body) {
                guard let old = index[id] else {
                    index[id] = object
                    continue
                }
                let transient: Set<String> = ["creating", "cloning_dst", "resizing", "uploading"]
                if object.count > old.count
                    || (object.count == old.count && transient.contains(old["status"]?.stringValue ?? "")
                        && !transient.contains(object["status"]?.stringValue ?? ""))
                {
                    index[id] = object
                }
            }
        }
        return index
    }()

    /// The objects with a `resource_uri` and a `uuid` in one answer, by uuid (the richest).
    static func objects(in body: JSONValue?) -> [String: [String: JSONValue]] {
        var found: [String: [String: JSONValue]] = [:]
        func walk(_ value: JSONValue) {
            switch value {
            case .object(let o):
                if case .string(let id)? = o["uuid"], collection(ofObject: value) != nil, o.count > (found[id]?.count ?? 0) {
                    found[id] = o
                }
                o.values.forEach(walk)
            case .array(let items): items.forEach(walk)
            default: break
            }
        }
        if let body { walk(body) }
        return found
    }

    /// A tag's `resources` given as uuids no capture describes (the captured answers name other
    /// uuids): they take the collections of the answer's resources that the known ones leave.
    static func resourceHints(_ pair: Pair) -> [String: String] {
        guard let text = pair.request.body, let body = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)),
            let answer = pair.response.body
        else { return [:] }
        let requested = (body["objects"]?.arrayValue?.first ?? body)["resources"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var left = ((answer["objects"]?.arrayValue?.first ?? answer)["resources"]?.arrayValue ?? []).compactMap {
            collection(ofObject: $0)
        }
        var unknown: [String] = []
        for id in requested {
            if let known = collection(of: id, in: "") {
                if let at = left.firstIndex(of: known) { left.remove(at: at) }
            } else {
                unknown.append(id)
            }
        }
        return Dictionary(uniqueKeysWithValues: zip(unknown, left).map { ($0, $1) })
    }

    /// The captured account's facts that requests echo (the profile's email and signup time):
    /// they are Alice's here.
    static let accountFacts: [String] = pairs.compactMap { pair -> String? in
        guard pair.request.target.contains("/profile/"), let text = pair.request.body,
            let body = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        else { return nil }
        return body["signup_time"]?.stringValue
    }

    /// Keys every captured object of a collection has, and keys some have: the difference is what
    /// the captures disagree on (they come from different times of the API).
    /// (Keyed by shape: an object's collection, or the collection and key path of a nested object
    /// such as `drives.runtime` or `servers.nics[]`.)
    static let keySets: [String: (all: Set<String>, some: Set<String>)] = {
        var sets: [String: (all: Set<String>, some: Set<String>)] = [:]
        func walk(_ value: JSONValue, _ shape: String) {
            switch value {
            case .object(let o):
                let shape = collection(ofObject: value) ?? shape
                if !Set(o.keys).isSubset(of: ["resource_uri", "uuid"]) {
                    let keys = Set(o.keys)
                    let old = sets[shape] ?? (keys, keys)
                    sets[shape] = (old.all.intersection(keys), old.some.union(keys))
                }
                for (key, child) in o { walk(child, "\(shape).\(key)") }
            case .array(let items): items.forEach { walk($0, shape + "[]") }
            default: break
            }
        }
        for pair in pairs { if let body = pair.response.body { walk(body, listedCollection(of: pair.request.target) ?? "$") } }
        return sets
    }()

    /// The collection an object's `resource_uri` names (also in the mangled form one capture
    /// shows, `{"resource_uri", "uuid"}` in place of the string).
    static func collection(ofObject value: JSONValue) -> String? {
        var uri = value["resource_uri"]
        if case .object? = uri { uri = uri?["resource_uri"] }
        guard case .string(let text)? = uri, text.hasPrefix(APIPath.prefix) else { return nil }
        return text.dropFirst(APIPath.prefix.count).split(separator: "/").first.map(String.init)
    }

    /// The collection of `id`: from a captured object, else from the path segment before it.
    /// The profile's uuid is the account's.
    static func collection(of id: String, in target: String) -> String? {
        if let object = index[id], let collection = collection(ofObject: .object(object)) { return collection }
        let segments = (target.split(separator: "?").first ?? "").split(separator: "/").map(String.init)
        if let at = segments.firstIndex(of: id), at > 0 { return segments[at - 1] }
        if segments.contains("profile") { return "user" }
        if id.contains(".") { return "ips" }
        return nil
    }

    /// What a list path lists: `/drives/…` drives, `/tags/{uuid}/servers/` servers.
    static func listedCollection(of target: String) -> String? {
        let segments = (target.split(separator: "?").first ?? "").split(separator: "/").map(String.init).filter { $0 != "detail" }
        guard segments.count >= 3 else { return nil }
        return segments.count == 5 && segments[2] == "tags" ? segments[4] : segments[2]
    }

    /// uuids and IPv4 addresses in a text.
    static func ids(in text: String) -> [String] {
        let pattern = #"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b"#
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        var seen = Set<String>()
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range, in: text).map { String(text[$0]) }
        }.filter { seen.insert($0).inserted }
    }

    /// The objects an answer is about: the bare object, or a list's (or a create's) `objects`.
    static func listedObjects(_ body: JSONValue) -> [JSONValue] {
        if case .array(let objects)? = body["objects"] { return objects }
        return collection(ofObject: body) != nil ? [body] : []
    }

    /// How our answer differs from the captured one. `null` in the capture stands for any value;
    /// `meta` is user data (a dict either way); lists compare their first elements.
    static func differences(captured: JSONValue, ours: JSONValue, at path: String = "$", shape: String = "$") -> [String] {
        switch (captured, ours) {
        case (.null, _):
            return []
        case (.object(let c), .object(let o)):
            var out: [String] = []
            let shape = collection(ofObject: captured) ?? shape
            let disputed = (keySets[shape].map { $0.some.subtracting($0.all) } ?? []).union(additions[shape] ?? [])
            var keys = Set(c.keys).union(o.keys)
            if dataMaps.contains(shape) { keys = Set(c.keys).intersection(o.keys) }
            for key in keys.sorted() {
                switch (c[key], o[key]) {
                case (let cv?, let ov?):
                    if key == "meta" {
                        if case .object = ov {} else { out.append("\(path).meta is \(ov.typeName), not a dict") }
                    } else if key == "resource_uri", case .object(let inner) = cv, inner["uuid"] != nil {
                        // One capture's sample has the reference in place of the URI (reference §7.3).
                        if case .string = ov {} else { out.append("\(path).resource_uri is \(ov.typeName), not a string") }
                    } else if enumerations.contains(key), case .string(let cs) = cv, ov != cv {
                        out.append("\(path).\(key): \"\(cs)\" captured, \(ov.jsonString) here")
                    } else {
                        out += differences(captured: cv, ours: ov, at: "\(path).\(key)", shape: "\(shape).\(key)")
                    }
                case (_?, nil) where !disputed.contains(key):
                    out.append("\(path).\(key) missing here")
                case (nil, _?) where !disputed.contains(key):
                    out.append("\(path).\(key) not in the capture")
                default:
                    break
                }
            }
            return out
        case (.array(let c), .array(let o)):
            guard let first = c.first else { return [] }
            guard let firstMine = o.first else { return ["\(path): \(c.count) captured, none here"] }
            // Objects of several collections (a tag's resources, in no promised order): each
            // captured one against one of ours of the same collection.
            var out: [String] = []
            for (i, element) in c.enumerated() where i == 0 || collection(ofObject: element) != collection(ofObject: first) {
                guard let kind = collection(ofObject: element) else { continue }
                guard let mine = o.first(where: { collection(ofObject: $0) == kind }) else {
                    out.append("\(path): a \(kind) object captured, none here")
                    continue
                }
                out += differences(captured: element, ours: mine, at: "\(path)[\(kind)]", shape: shape + "[]")
            }
            if collection(ofObject: first) == nil {
                out += differences(captured: first, ours: firstMine, at: "\(path)[0]", shape: shape + "[]")
            }
            return out
        case (.int, .int), (.double, .double), (.bool, .bool), (.string, .string):
            return []
        default:
            return ["\(path): \(captured.typeName) captured, \(ours.typeName) here"]
        }
    }
}

/// The captured account's objects, made here on demand: captured id → local id.
struct ReplayWorld {
    let env: TestEnv
    var map: [String: String] = [:]
    var servers = 0
    /// The pair's own answer's objects: the state its objects were in.
    var preferred: [String: [String: JSONValue]] = [:]
    /// The answer shows a resize under way: drives are made smaller than it says.
    var resizing = false

    init(env: TestEnv) {
        self.env = env
        // The captured account's email (the profile captures) is Alice's.
        map["user@example.com"] = env.alice.user.email
        for signup in ReplayCorpus.accountFacts { map[signup] = env.alice.user.createdAt }
    }

    /// The local id of captured `id` (of `hint`'s collection when no capture has it), made in the
    /// captured state the first time.
    mutating func local(_ id: String, hint: String?) async throws -> String {
        if let known = map[id] { return known }
        let captured = preferred[id] ?? ReplayCorpus.index[id] ?? [:]
        let collection = ReplayCorpus.collection(ofObject: .object(captured)) ?? hint ?? "drives"
        let made: String
        switch collection {
        case "user":
            made = env.alice.user.uuid
        case "libdrives":
            made = try await library(captured)
        case "drives" where captured["owner"] == .null && !captured.isEmpty:
            made = try await library(captured)
        case "drives":
            made = try await drive(id, captured)
        case "snapshots":
            let drive = try await local(
                captured["drive"]?["uuid"]?.stringValue ?? UUID().uuidString.lowercased(), hint: "drives")
            if let known = map[id] { return known }  // made with its drive
            made = try await snapshot(of: drive, captured)
        case "tags":
            // With its captured resources.
            var resources: [JSONValue] = []
            for resource in captured["resources"]?.arrayValue ?? [] {
                guard let rid = resource["uuid"]?.stringValue else { continue }
                resources.append(.string(try await local(rid, hint: ReplayCorpus.collection(ofObject: resource))))
            }
            let name = JSONValue.string(captured["name"]?.stringValue ?? "tag").jsonString
            made = try await create("tags", #"{"name": \#(name), "resources": \#(JSONValue.array(resources).jsonString)}"#)
        case "servers":
            made = try await server(captured)
        case "ips", "vlans":
            made = try #require(try await env.get("/api/2.0/\(collection)/").first?["uuid"]?.stringValue)
        case "jobs":
            // A clone's job: clone a drive made for it.
            let source = try await drive(nil, [:])
            let clone = try await env.request(.post, "/api/2.0/drives/\(source)/action/?do=clone", body: "{}")
            made = try #require(clone.first?["jobs"]?.arrayValue?.first?["uuid"]?.stringValue, "\(clone.text)")
            try await env.tick()
        default:
            Issue.record("cannot make a \(collection) object (\(id))")
            made = id
        }
        map[id] = made
        return made
    }

    func create(_ collection: String, _ body: String) async throws -> String {
        let reply = try await env.request(.post, "/api/2.0/\(collection)/", body: body)
        try #require(reply.code == 201, "\(collection): \(reply.text)")
        return try #require(reply.first?["uuid"]?.stringValue)
    }

    /// The library drive most like the captured one: same media, OS and having licenses or not.
    func library(_ captured: [String: JSONValue]) async throws -> String {
        let all = try await env.get("/api/2.0/libdrives/?limit=0").objects
        func score(_ drive: JSONValue) -> Int {
            var score = 0
            if drive["media"] == (captured["media"] ?? .string("disk")) { score += 4 }
            if let os = captured["os"], drive["os"] == os { score += 2 }
            if (drive["licenses"]?.arrayValue?.isEmpty ?? true) == (captured["licenses"]?.arrayValue?.isEmpty ?? true) { score += 1 }
            return score
        }
        let chosen = all.max { score($0) < score($1) }
        return try #require(chosen?["uuid"]?.stringValue)
    }

    /// A snapshot of `drive`, `available`, or held in `creating` when the capture shows it so.
    func snapshot(of drive: String, _ captured: [String: JSONValue]) async throws -> String {
        let creating = captured["status"]?.stringValue == "creating"
        let admin: HTTPFields = [.authorization: "Basic " + Data("admin:admin".utf8).base64EncodedString()]
        if creating {
            let hold = try await env.request(
                .put, "/_drivesd/transitions/snapshot", body: #"{"mode": "manual"}"#, authenticated: false, headers: admin)
            try #require(hold.code == 200, "\(hold.text)")
        }
        let name = JSONValue.string(captured["name"]?.stringValue ?? "snap").jsonString
        let made = try await create("snapshots", #"{"drive": "\#(drive)", "name": \#(name)}"#)
        try await env.tick()
        if creating {
            let release = try await env.request(
                .put, "/_drivesd/transitions/snapshot", body: #"{"mode": "configured"}"#, authenticated: false, headers: admin)
            try #require(release.code == 200, "\(release.text)")
        }
        return made
    }

    /// A drive as captured: name, size, media, storage type; `unmounted`, or mounted on its
    /// captured server when the capture says so.
    mutating func drive(_ id: String?, _ captured: [String: JSONValue]) async throws -> String {
        var fields = [
            #""name": \#(JSONValue.string(captured["name"]?.stringValue ?? "replay").jsonString)"#,
            #""size": \#((captured["size"]?.lenientInteger ?? 1_073_741_824) / (resizing ? 2 : 1))"#,
            #""media": "\#(captured["media"]?.stringValue ?? "disk")""#,
        ]
        if case .string(let type)? = captured["storage_type"] { fields.append(#""storage_type": "\#(type)""#) }
        let uuid = try await create("drives", "{" + fields.joined(separator: ", ") + "}")
        if let id { map[id] = uuid }
        try await env.tick()
        // Its captured snapshots, oldest first.
        for snapshot in (captured["snapshots"]?.arrayValue ?? []).reversed() {
            guard let sid = snapshot["uuid"]?.stringValue, map[sid] == nil else { continue }
            map[sid] = try await self.snapshot(of: uuid, preferred[sid] ?? ReplayCorpus.index[sid] ?? [:])
        }
        let mountedOn = captured["mounted_on"]?.arrayValue?.first?["uuid"]?.stringValue
        if captured["status"]?.stringValue == "mounted" || mountedOn != nil {
            let server = try await local(mountedOn ?? UUID().uuidString.lowercased(), hint: "servers")
            var definition = try #require(try await env.get("/api/2.0/servers/\(server)/").json?.objectValue)
            var drives = definition["drives"]?.arrayValue ?? []
            drives.append(
                .object([
                    "device": .string("virtio"), "dev_channel": .string("0:\(drives.count)"), "drive": .string(uuid),
                    "boot_order": .null,
                ]))
            definition["drives"] = .array(drives)
            let put = try await env.request(.put, "/api/2.0/servers/\(server)/", body: JSONValue.object(definition).jsonString)
            try #require(put.code == 200, "mounting: \(put.text)")
            try await env.tick()
        }
        return uuid
    }

    /// A server as captured (name, cpu, mem), started when the capture shows it running.
    mutating func server(_ captured: [String: JSONValue]) async throws -> String {
        servers += 1
        let name = captured["name"]?.stringValue ?? "replay_server_\(servers)"
        let uuid = try await create(
            "servers",
            #"{"name": \#(JSONValue.string(name).jsonString), "cpu": \#(captured["cpu"]?.lenientInteger ?? 1000), "mem": \#(captured["mem"]?.lenientInteger ?? 536_870_912), "vnc_password": "replay"}"#
        )
        if captured["status"]?.stringValue == "running" {
            let start = try await env.request(.post, "/api/2.0/servers/\(uuid)/action/?do=start", body: "{}")
            try #require(start.code == 202, "start: \(start.text)")
            try await env.tick()
        }
        return uuid
    }
}
