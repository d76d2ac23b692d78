import DriveAPI
import DriveLifecycle
import DriveModel
import Foundation
import HTTPTypes
import Testing

/// Holds openapi/drivesd.openapi.json, the copy the binary serves, the router and live responses to
/// each other: the document names every route and nothing else, and what the API answers (and
/// accepts) is what the document says.
@Suite("The OpenAPI document")
struct OpenAPIDocumentTests {
    static let documentPath = "/api/2.0/openapi.json"
    static let uploadLinkPath = "/api/2.0/drives/{uuid}/upload_chunk/{token}/"
    static let httpMethods = ["get", "put", "post", "delete", "patch", "options", "head", "trace"]

    /// openapi/drivesd.openapi.json, parsed.
    static func fileDocument() throws -> JSONValue {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../openapi/drivesd.openapi.json").standardizedFileURL
        let data = try Data(contentsOf: url)
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Every "METHOD path" the document describes.
    static func documentedOperations(_ document: JSONValue) -> Set<String> {
        var operations: Set<String> = []
        for (path, item) in document["paths"]?.objectValue ?? [:] {
            for method in httpMethods where item[method] != nil {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    /// The JSON paths where `a` and `b` differ.
    static func differences(_ a: JSONValue, _ b: JSONValue, at path: String = "$") -> [String] {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            return Set(x.keys).union(y.keys).sorted().flatMap { key -> [String] in
                guard let u = x[key], let v = y[key] else { return ["\(path).\(key) (only on one side)"] }
                return differences(u, v, at: "\(path).\(key)")
            }
        case (.array(let x), .array(let y)) where x.count == y.count:
            return zip(x, y).enumerated().flatMap { differences($1.0, $1.1, at: "\(path)[\($0)]") }
        default:
            return a == b ? [] : [path]
        }
    }

    @Test("the document the binary serves is openapi/drivesd.openapi.json (run scripts/embed-openapi)")
    func embeddedCopyMatchesFile() async throws {
        let file = try Self.fileDocument()
        try await withDrivesd { env in
            let served = try await env.request(.get, Self.documentPath, authenticated: false)
            #expect(served.code == 200)
            let json = try #require(served.json, "the served document is not JSON")
            let differences = Self.differences(json, file)
            #expect(
                differences.isEmpty,
                "the embedded OpenAPI document differs from openapi/drivesd.openapi.json at \(differences.prefix(10)): run scripts/embed-openapi")
        }
    }

    @Test("every route of the router is documented, and every documented operation is routed")
    func routerAndDocumentAgree() async throws {
        let document = try Self.fileDocument()
        try await withDrivesd { env in
            let routes = Set(env.api.routes().map { "\($0.method.uppercased()) \($0.path)" })
            #expect(!routes.isEmpty)
            let documented = Self.documentedOperations(document).subtracting(["GET \(Self.documentPath)"])
            let unrouted = documented.subtracting(routes).sorted()
            #expect(unrouted.isEmpty, "operations in openapi/drivesd.openapi.json that routes() does not list: \(unrouted)")
            // A route routes() lists that the router does not serve at that path (its unmatched 404)
            // is a fault of the route recorder, not of the document: reported apart.
            var undocumented: [String] = []
            var phantoms: [String] = []
            for route in routes.subtracting(documented).sorted() {
                if try await Self.probe(env, route).unmatched { phantoms.append(route) } else { undocumented.append(route) }
            }
            #expect(undocumented.isEmpty, "routes missing from openapi/drivesd.openapi.json: \(undocumented)")
            #expect(phantoms.isEmpty, "routes() lists routes the router does not serve there: \(phantoms)")
            // And the live router serves every documented operation: neither its unmatched 404 nor a 405.
            var unserved: [String] = []
            for operation in documented.sorted() {
                let reply = try await Self.probe(env, operation)
                if reply.unmatched || reply.code == 405 { unserved.append("\(operation) → \(reply.code)") }
            }
            #expect(unserved.isEmpty, "documented operations the router does not serve: \(unserved)")
            #expect(Self.documentedOperations(document).contains("GET \(Self.documentPath)"))
        }
    }

    /// Sends "METHOD /path/{param}/" with a fresh uuid for every parameter (and `{}` as the body of
    /// a PUT, POST or DELETE); `unmatched`: the router has no route there.
    static func probe(_ env: TestEnv, _ operation: String) async throws -> (code: Int, unmatched: Bool) {
        let parts = operation.split(separator: " ", maxSplits: 1).map(String.init)
        let method = HTTPRequest.Method(rawValue: parts[0])!
        let path = parts[1].split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("{") ? UUID().uuidString.lowercased() : String($0) }.joined(separator: "/")
        let reply = try await env.request(method, path, body: method == .get ? nil : "{}")
        let unmatched = reply.code == 404 && reply.error.message?.hasPrefix("The requested resource") == true
        return (reply.code, unmatched)
    }

    @Test("GET /api/2.0/openapi.json answers without credentials: an OpenAPI 3.1 document")
    func servedWithoutCredentials() async throws {
        try await withDrivesd { env in
            for path in [Self.documentPath, "/api/2.0/openapi.json/"] {
                let reply = try await env.request(.get, path, authenticated: false)
                #expect(reply.code == 200, "\(path): \(reply.text.prefix(200))")
                #expect(reply.headers[.contentType]?.hasPrefix("application/json") == true)
                #expect(reply.json?["openapi"]?.stringValue?.hasPrefix("3.1") == true)
                #expect(reply.json?["paths"]?["/api/2.0/drives/{uuid}/"]?["get"] != nil)
            }
        }
    }

    @Test("the document is well formed: refs resolve, path parameters are declared, auth is documented")
    func wellFormed() throws {
        let document = try Self.fileDocument()
        let validator = OpenAPISchemaValidator(root: document)
        #expect(document["openapi"]?.stringValue?.hasPrefix("3.1") == true)
        #expect(document["components"]?["securitySchemes"]?["basicAuth"]?["scheme"] == .string("basic"))
        #expect(document["components"]?["securitySchemes"]?["digestAuth"]?["scheme"] == .string("digest"))
        #expect(document["components"]?["securitySchemes"]?["bearerAuth"]?["scheme"] == .string("bearer"))
        #expect(document["components"]?["securitySchemes"]?["sessionCookie"]?["name"] == .string("sessionid"))
        #expect(
            document["security"]
                == .array(["basicAuth", "digestAuth", "bearerAuth", "sessionCookie"].map { .object([$0: .array([])]) }))
        var problems: [String] = []
        validator.danglingRefs(in: document, at: "#", into: &problems)
        var operationIDs: Set<String> = []
        for (path, item) in document["paths"]?.objectValue ?? [:] {
            if path != Self.documentPath && !(path.hasPrefix("/api/2.0/") && path.hasSuffix("/")) {
                problems.append("\(path): not under /api/2.0/ in its trailing-slash form")
            }
            let templated = Set(path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) })
            for method in Self.httpMethods {
                guard let operation = item[method] else { continue }
                let where_ = "\(method.uppercased()) \(path)"
                if let id = operation["operationId"]?.stringValue {
                    if !operationIDs.insert(id).inserted { problems.append("\(where_): operationId \(id) used twice") }
                } else {
                    problems.append("\(where_): no operationId")
                }
                let parameters = (operation["parameters"]?.arrayValue ?? []).map { validator.resolved($0) }
                let declared = Set(parameters.filter { $0["in"] == .string("path") }.compactMap { $0["name"]?.stringValue })
                if declared != templated { problems.append("\(where_): path parameters \(declared.sorted()), template has \(templated.sorted())") }
                let responses = operation["responses"]?.objectValue ?? [:]
                let isPublic = operation["security"] == .array([])
                // Public: the document itself, upload links (they carry their own token, U4) and
                // the locations (clients read them before they log in).
                let mayBePublic = path == Self.documentPath || path == Self.uploadLinkPath || path == "/api/2.0/locations/"
                if isPublic != mayBePublic { problems.append("\(where_): only the document, upload links and locations are public") }
                if !isPublic && responses["401"] == nil { problems.append("\(where_): no 401 response") }
                if !responses.keys.contains(where: { $0.hasPrefix("2") }) { problems.append("\(where_): no success response") }
            }
        }
        // A projection (`?fields=`) has exactly its object's properties, none required.
        let schemas = document["components"]?["schemas"]?.objectValue ?? [:]
        for (name, projection) in schemas where name.hasSuffix("Projection") {
            let base = String(name.dropLast("Projection".count))
            if let full = schemas[base] {
                if projection["properties"] != full["properties"] { problems.append("\(name): properties differ from \(base)'s") }
                if projection["required"] != nil { problems.append("\(name): a projection requires nothing") }
            } else {
                problems.append("\(name): no schema \(base)")
            }
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    // MARK: Live responses against the document

    @Test("drive, job, license and capability responses conform to the documented schemas")
    func driveResponsesConform() async throws {
        let spec = try OpenAPIConformance(document: Self.fileDocument())
        try await withDrivesd { env in
            let wrapped = try await env.request(
                .post, "/api/2.0/drives/",
                body: #"{"objects": [{"name": "a", "size": 1073741824, "media": "disk", "meta": {"k": "v"}, "licenses": [{"license": 12}]}]}"#)
            spec.check(wrapped, "POST", "/api/2.0/drives/", expect: 201)
            #expect(wrapped.headers[.location] != nil)
            let uuid = try #require(wrapped.first?["uuid"]?.stringValue)
            // The Drive schema's required keys are all there in a real drive, and nothing else is.
            let required = Set(spec.document["components"]?["schemas"]?["Drive"]?["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            #expect(!required.isEmpty)
            #expect(Set(wrapped.first?.objectValue?.keys.map { $0 } ?? []) == required)

            spec.check(
                try await env.request(.post, "/api/2.0/drives/", body: #"[{"name": "b", "size": "2147483648", "media": "cdrom"}]"#),
                "POST", "/api/2.0/drives/", expect: 201)
            let bare = try await env.request(.post, "/api/2.0/drives/?avoid=\(uuid)", body: #"{"name": "c", "size": 1073741824, "media": "disk"}"#)
            spec.check(bare, "POST", "/api/2.0/drives/", expect: 201)
            let third = try #require(bare.first?["uuid"]?.stringValue)
            // A drive still creating cannot be deleted: 403.
            spec.check(try await env.request(.delete, "/api/2.0/drives/\(third)/"), "DELETE", "/api/2.0/drives/{uuid}/", expect: 403)
            try await env.tick()

            spec.check(try await env.get("/api/2.0/drives/"), "GET", "/api/2.0/drives/", expect: 200)
            spec.check(try await env.get("/api/2.0/drives/?limit=0&order_by=-name&name__contains=a"), "GET", "/api/2.0/drives/", expect: 200)
            spec.check(try await env.get("/api/2.0/drives/?fields=uuid,name"), "GET", "/api/2.0/drives/", expect: 200, projected: true)
            spec.check(try await env.get("/api/2.0/drives/detail/"), "GET", "/api/2.0/drives/detail/", expect: 200)
            spec.check(try await env.get("/api/2.0/drives/detail/?fields=status,size"), "GET", "/api/2.0/drives/detail/", expect: 200, projected: true)
            spec.check(try await env.get("/api/2.0/drives/\(uuid)/"), "GET", "/api/2.0/drives/{uuid}/", expect: 200)
            spec.check(try await env.get("/api/2.0/drives/\(uuid)/?fields=name"), "GET", "/api/2.0/drives/{uuid}/", expect: 200, projected: true)
            spec.check(try await env.get("/api/2.0/drives/schema/"), "GET", "/api/2.0/drives/schema/", expect: 200)
            spec.check(try await env.get("/api/2.0/drives/availability_groups/"), "GET", "/api/2.0/drives/availability_groups/", expect: 200)
            spec.check(
                try await env.get("/api/2.0/drives/availability_groups/\(uuid)/"), "GET", "/api/2.0/drives/availability_groups/{uuid}/",
                expect: 200)

            let edit = try await env.request(
                .put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "a2", "size": 2147483648, "media": "disk", "status": "ignored"}"#)
            spec.check(edit, "PUT", "/api/2.0/drives/{uuid}/", expect: 200)
            try await env.tick()
            let clone = try await env.request(.post, "/api/2.0/drives/\(uuid)/action/?do=clone", body: "{}")
            spec.check(clone, "POST", "/api/2.0/drives/{uuid}/action/", expect: 202)
            let resize = try await env.request(
                .post, "/api/2.0/drives/\(third)/action/?do=resize", body: #"{"name": "c", "size": 2147483648, "media": "disk"}"#)
            spec.check(resize, "POST", "/api/2.0/drives/{uuid}/action/", expect: 202)
            try await env.tick()
            let bulk = try await env.request(
                .put, "/api/2.0/drives/", body: #"{"objects": [{"uuid": "\#(uuid)", "name": "a3", "size": 2147483648, "media": "disk"}]}"#)
            spec.check(bulk, "PUT", "/api/2.0/drives/", expect: 200)

            let jobs = try await env.get("/api/2.0/jobs/")
            spec.check(jobs, "GET", "/api/2.0/jobs/", expect: 200)
            let job = try #require(jobs.first?["uuid"]?.stringValue)
            spec.check(try await env.get("/api/2.0/jobs/?state=success,started"), "GET", "/api/2.0/jobs/", expect: 200)
            spec.check(try await env.get("/api/2.0/jobs/detail/"), "GET", "/api/2.0/jobs/detail/", expect: 200)
            spec.check(try await env.get("/api/2.0/jobs/\(job)/"), "GET", "/api/2.0/jobs/{uuid}/", expect: 200)
            spec.check(try await env.get("/api/2.0/jobs/schema/"), "GET", "/api/2.0/jobs/schema/", expect: 200)

            let licenses = try await env.get("/api/2.0/licenses/?limit=0")
            spec.check(licenses, "GET", "/api/2.0/licenses/", expect: 200)
            // Drive inputs name licenses by id: the document lists the catalogue's ids.
            let ids = Set(licenses.objects.compactMap { $0["resource_uri"]?.stringValue?.split(separator: "/").last.map(String.init) })
            let documentedIDs = spec.document["components"]?["schemas"]?["LicenseInput"]?["properties"]?["license"]?["anyOf"]?
                .arrayValue?.first?["enum"]?.arrayValue?.map(\.jsonString)
            #expect(Set(documentedIDs ?? []) == ids, "the license ids of LicenseInput are not the catalogue's: \(ids.sorted())")
            spec.check(try await env.get("/api/2.0/licenses/detail/?limit=2"), "GET", "/api/2.0/licenses/detail/", expect: 200)
            spec.check(try await env.get("/api/2.0/licenses/12/"), "GET", "/api/2.0/licenses/{id}/", expect: 200)
            spec.check(try await env.get("/api/2.0/licenses/999/"), "GET", "/api/2.0/licenses/{id}/", expect: 404)
            spec.check(try await env.get("/api/2.0/licenses/schema/"), "GET", "/api/2.0/licenses/schema/", expect: 200)
            spec.check(try await env.get("/api/2.0/capabilities/"), "GET", "/api/2.0/capabilities/", expect: 200)

            let clonedUUID = try #require(clone.first?["uuid"]?.stringValue)
            spec.check(
                try await env.request(.delete, "/api/2.0/drives/", body: #"{"objects": [{"uuid": "\#(clonedUUID)"}]}"#),
                "DELETE", "/api/2.0/drives/", expect: 204)
            spec.check(try await env.request(.delete, "/api/2.0/drives/\(third)/"), "DELETE", "/api/2.0/drives/{uuid}/", expect: 204)
        }
    }

    @Test("server, tag and library responses conform to the documented schemas")
    func serverTagLibraryResponsesConform() async throws {
        let spec = try OpenAPIConformance(document: Self.fileDocument())
        try await withDrivesd { env in
            let drive = try await env.createDrive(name: "mounted")
            try await env.tick()
            let created = try await env.request(
                .post, "/api/2.0/servers/",
                body: #"""
                    {"objects": [{"name": "srv", "cpu": 1000, "mem": 536870912, "vnc_password": "pw", "smp": 2,
                      "nics": [{"ip_v4_conf": {"conf": "dhcp"}, "model": "virtio"}, {"vlan": null}],
                      "drives": [{"boot_order": 1, "dev_channel": "0:0", "device": "virtio", "drive": "\#(drive)"}]}]}
                    """#)
            spec.check(created, "POST", "/api/2.0/servers/", expect: 201)
            let server = try #require(created.first?["uuid"]?.stringValue)
            spec.check(try await env.get("/api/2.0/servers/"), "GET", "/api/2.0/servers/", expect: 200)
            spec.check(try await env.get("/api/2.0/servers/detail/"), "GET", "/api/2.0/servers/detail/", expect: 200)
            spec.check(
                try await env.request(
                    .put, "/api/2.0/servers/\(server)/",
                    body: #"{"name": "srv2", "cpu": "2000", "mem": 536870912, "vnc_password": "pw", "drives": [{"dev_channel": "0:1", "device": "ide", "drive": {"uuid": "\#(drive)"}}]}"#),
                "PUT", "/api/2.0/servers/{uuid}/", expect: 200)
            spec.check(
                try await env.request(.post, "/api/2.0/servers/\(server)/action/?do=start"), "POST", "/api/2.0/servers/{uuid}/action/",
                expect: 202)
            try await env.tick()
            spec.check(try await env.get("/api/2.0/servers/\(server)/"), "GET", "/api/2.0/servers/{uuid}/", expect: 200)
            spec.check(
                try await env.request(.post, "/api/2.0/servers/\(server)/action/?do=start", body: "{}"), "POST",
                "/api/2.0/servers/{uuid}/action/", expect: 403)
            spec.check(try await env.request(.delete, "/api/2.0/servers/\(server)/"), "DELETE", "/api/2.0/servers/{uuid}/", expect: 403)
            spec.check(
                try await env.request(.post, "/api/2.0/servers/\(server)/action/?do=stop", body: "{}"), "POST",
                "/api/2.0/servers/{uuid}/action/", expect: 202)
            try await env.tick()

            let tag = try await env.request(
                .post, "/api/2.0/tags/", body: #"{"objects": [{"name": "t", "meta": {"a": "b"}, "resources": ["\#(drive)", "/api/2.0/servers/\#(server)/"]}]}"#)
            spec.check(tag, "POST", "/api/2.0/tags/", expect: 201)
            let tagUUID = try #require(tag.first?["uuid"]?.stringValue)
            spec.check(
                try await env.request(.post, "/api/2.0/tags/", body: #"{"objects": [{"name": "u"}, {"name": "v", "resources": []}], "resources": ["\#(drive)"]}"#),
                "POST", "/api/2.0/tags/", expect: 201)
            spec.check(try await env.get("/api/2.0/tags/"), "GET", "/api/2.0/tags/", expect: 200)
            spec.check(try await env.get("/api/2.0/servers/?fields=name,nics"), "GET", "/api/2.0/servers/", expect: 200, projected: true)
            spec.check(try await env.get("/api/2.0/tags/detail/?name=t"), "GET", "/api/2.0/tags/detail/", expect: 200)
            spec.check(try await env.get("/api/2.0/tags/schema/"), "GET", "/api/2.0/tags/schema/", expect: 200)
            spec.check(try await env.get("/api/2.0/tags/\(tagUUID)/"), "GET", "/api/2.0/tags/{uuid}/", expect: 200)
            for kind in ["drives", "servers"] {
                spec.check(try await env.get("/api/2.0/tags/\(tagUUID)/\(kind)/"), "GET", "/api/2.0/tags/{uuid}/\(kind)/", expect: 200)
                spec.check(
                    try await env.get("/api/2.0/tags/\(tagUUID)/\(kind)/detail/"), "GET", "/api/2.0/tags/{uuid}/\(kind)/detail/", expect: 200)
            }
            spec.check(try await env.get("/api/2.0/drives/?tag__name=t"), "GET", "/api/2.0/drives/", expect: 200)
            spec.check(
                try await env.request(.put, "/api/2.0/tags/\(tagUUID)/", body: #"{"name": "t2"}"#), "PUT", "/api/2.0/tags/{uuid}/",
                expect: 200)
            spec.check(try await env.request(.delete, "/api/2.0/tags/\(tagUUID)/"), "DELETE", "/api/2.0/tags/{uuid}/", expect: 204)
            spec.check(
                try await env.request(.delete, "/api/2.0/servers/\(server)/?recurse=all_drives"), "DELETE", "/api/2.0/servers/{uuid}/",
                expect: 204)

            let library = try await env.get("/api/2.0/libdrives/")
            spec.check(library, "GET", "/api/2.0/libdrives/", expect: 200)
            let libUUID = try #require(library.first?["uuid"]?.stringValue)
            spec.check(try await env.get("/api/2.0/libdrives/detail/?os=linux,windows"), "GET", "/api/2.0/libdrives/detail/", expect: 200)
            spec.check(try await env.get("/api/2.0/libdrives/schema/"), "GET", "/api/2.0/libdrives/schema/", expect: 200)
            spec.check(try await env.get("/api/2.0/libdrives/\(libUUID)/"), "GET", "/api/2.0/libdrives/{uuid}/", expect: 200)
            spec.check(try await env.get("/api/2.0/drives/\(libUUID)/"), "GET", "/api/2.0/drives/{uuid}/", expect: 200)
            spec.check(
                try await env.request(.put, "/api/2.0/drives/\(libUUID)/", body: #"{"name": "x", "size": 1073741824, "media": "disk"}"#),
                "PUT", "/api/2.0/drives/{uuid}/", expect: 403)
            spec.check(
                try await env.request(.post, "/api/2.0/libdrives/\(libUUID)/action/?do=clone"), "POST", "/api/2.0/libdrives/{uuid}/action/",
                expect: 202)
        }
    }

    @Test("error responses are documented for their operations and have the error array's shape")
    func errorsConform() async throws {
        let spec = try OpenAPIConformance(document: Self.fileDocument())
        try await withDrivesd { env in
            let unknown = UUID().uuidString.lowercased()
            let noAuth = try await env.request(.get, "/api/2.0/drives/", authenticated: false)
            spec.check(noAuth, "GET", "/api/2.0/drives/", expect: 401)
            #expect(noAuth.headers[.wwwAuthenticate]?.hasPrefix("Basic realm=") == true)
            spec.check(try await env.get("/api/2.0/drives/?limit=-1"), "GET", "/api/2.0/drives/", expect: 400)
            spec.check(try await env.get("/api/2.0/servers/?order_by=size"), "GET", "/api/2.0/servers/", expect: 400)
            spec.check(try await env.get("/api/2.0/jobs/?offset=x"), "GET", "/api/2.0/jobs/", expect: 400)
            spec.check(try await env.get("/api/2.0/drives/\(unknown)/"), "GET", "/api/2.0/drives/{uuid}/", expect: 404)
            spec.check(try await env.get("/api/2.0/jobs/\(unknown)/"), "GET", "/api/2.0/jobs/{uuid}/", expect: 404)
            spec.check(try await env.get("/api/2.0/tags/\(unknown)/drives/"), "GET", "/api/2.0/tags/{uuid}/drives/", expect: 404)
            spec.check(try await env.get("/api/2.0/libdrives/\(unknown)/"), "GET", "/api/2.0/libdrives/{uuid}/", expect: 404)
            spec.check(
                try await env.request(.post, "/api/2.0/drives/", body: #"{"name": "x", "size": 1073741824}"#), "POST", "/api/2.0/drives/",
                expect: 400)
            spec.check(try await env.request(.post, "/api/2.0/drives/", body: "{"), "POST", "/api/2.0/drives/", expect: 400)
            spec.check(
                try await env.request(.post, "/api/2.0/drives/\(unknown)/action/?do=clone"), "POST", "/api/2.0/drives/{uuid}/action/",
                expect: 404)
            let drive = try await env.createDrive()
            spec.check(
                try await env.request(.post, "/api/2.0/drives/\(drive)/action/?do=explode"), "POST", "/api/2.0/drives/{uuid}/action/",
                expect: 400)
            spec.check(
                try await env.request(.delete, "/api/2.0/servers/\(unknown)/?recurse=sometimes"), "DELETE", "/api/2.0/servers/{uuid}/",
                expect: 400)
            spec.check(
                try await env.request(.put, "/api/2.0/tags/\(unknown)/", body: #"{"name": "t"}"#), "PUT", "/api/2.0/tags/{uuid}/",
                expect: 404)
        }
        try await withDrivesd(settings: APISettings(durations: OperationDurations.stepped, bodyLimit: 64)) { env in
            let big = #"{"name": "\#(String(repeating: "x", count: 200))", "size": 1073741824, "media": "disk"}"#
            spec.check(try await env.request(.post, "/api/2.0/drives/", body: big), "POST", "/api/2.0/drives/", expect: 413)
        }
    }

    @Test("request bodies: what the document accepts the router accepts, and what it rejects the router rejects")
    func requestBodiesAgree() async throws {
        let spec = try OpenAPIConformance(document: Self.fileDocument())
        let accepted = [
            #"{"objects": [{"name": "w", "size": 1073741824, "media": "disk"}]}"#,
            #"[{"name": "l", "size": 1073741824, "media": "cdrom", "storage_type": "zadara", "affinities": ["ssd"]}]"#,
            #"{"name": "o", "size": " +2147483648", "media": "disk", "iops": 100, "allow_multimount": true, "meta": {"k": "v"}, "unknown": 1}"#,
            #"{"name": "", "size": 1073741824.0, "media": "disk", "storage_type": null, "tags": [], "licenses": [{"license": "/api/2.0/licenses/13/", "amount": 2}]}"#,
            #"{"name": "n", "size": 536870912, "media": "disk", "storage_type": "nvme", "iops": 60000, "licenses": [{"license": {"id": 14}}]}"#,
            #"{"name": "z", "size": 1073741824, "media": "disk", "storage_type": "zadara", "iops": 8000}"#,
        ]
        let rejected = [
            #"{"objects": []}"#,
            #"[]"#,
            #"{"name": "x", "size": 1073741824}"#,
            #"{"name": "x", "size": 1073741824, "media": "floppy"}"#,
            #"{"name": "x", "size": 1073741824, "media": "disk", "storage_type": "tape"}"#,
            #"{"name": 5, "size": 1073741824, "media": "disk"}"#,
            #"{"name": "x", "size": -1, "media": "disk"}"#,
            #"{"name": "x", "size": 1073741824, "media": "disk", "meta": {"k": 1}}"#,
            #"{"name": "x", "size": 1073741824, "media": "disk", "meta": {"\#(String(repeating: "k", count: 33))": "v"}}"#,
            #"{"name": "x", "size": 1073741824, "media": "disk", "affinities": ["hdd"]}"#,
            #"{"name": "x", "size": 1073741824, "media": "disk", "iops": "many"}"#,
            #"{"name": "x\u0000", "size": 1073741824, "media": "disk"}"#,
            #"{"objects": {"name": "x", "size": 1073741824, "media": "disk"}}"#,
            #""drive""#,
            #"{"name": "z", "size": 536870912, "media": "disk", "storage_type": "zadara"}"#,
            #"{"name": "z", "size": 1073741824, "media": "disk", "storage_type": "zadara", "iops": 9000}"#,
            #"{"name": "l", "size": 5000000000000, "media": "disk", "storage_type": "local_nvme"}"#,
            #"{"name": "x", "size": 1073741824, "media": "disk", "licenses": [{"license": 99}]}"#,
            #"{"name": "x", "size": 1073741824, "media": "disk", "licenses": [{"license": 12, "amount": 0}]}"#,
            #"{"name": "x", "size": 1073741824, "media": "disk", "tags": ["/api/2.0/servers/x/"]}"#,
            #"{"name": "x", "size": 1073741824, "media": "disk", "tags": [null]}"#,
        ]
        let schema = try #require(spec.requestSchema("POST", "/api/2.0/drives/"))
        try await withDrivesd { env in
            for body in accepted {
                let value = try JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))
                let problems = spec.validator.errors(value, schema)
                #expect(problems.isEmpty, "the document rejects \(body): \(problems)")
                let reply = try await env.request(.post, "/api/2.0/drives/", body: body)
                #expect(reply.code == 201, "the router rejects \(body): \(reply.text)")
            }
            for body in rejected {
                let value = try JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))
                #expect(!spec.validator.errors(value, schema).isEmpty, "the document accepts \(body)")
                let reply = try await env.request(.post, "/api/2.0/drives/", body: body)
                #expect(reply.code == 400, "the router accepts \(body): \(reply.code) \(reply.text)")
            }

            // Mount points: the channel limits of each device.
            let drive = try await env.createDrive()
            try await env.tick()
            let serverSchema = try #require(spec.requestSchema("POST", "/api/2.0/servers/"))
            for (device, channel, ok) in [
                ("ide", "1:1", true), ("ide", "2:0", false), ("scsi", "3:6", true), ("scsi", "0:7", false),
                ("virtio", "170:5", true), ("virtio", "0:6", false), ("sata", "0:0", false),
            ] {
                let body = #"""
                    {"name": "s", "cpu": 1000, "mem": 536870912, "vnc_password": "pw",
                     "drives": [{"dev_channel": "\#(channel)", "device": "\#(device)", "drive": "\#(drive)"}]}
                    """#
                let value = try JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))
                let problems = spec.validator.errors(value, serverSchema)
                #expect(problems.isEmpty == ok, "\(device) \(channel): the document says \(problems.isEmpty ? "valid" : "invalid")")
                let reply = try await env.request(.post, "/api/2.0/servers/", body: body)
                #expect((reply.code == 201) == ok, "\(device) \(channel): \(reply.code) \(reply.text)")
                if let server = reply.first?["uuid"]?.stringValue {
                    _ = try await env.request(.delete, "/api/2.0/servers/\(server)/")
                }
            }
        }
    }
}

// MARK: - Checking replies against the document

/// The document, and how to look up an operation's response and request schemas.
struct OpenAPIConformance {
    let document: JSONValue
    let validator: OpenAPISchemaValidator

    init(document: JSONValue) {
        self.document = document
        self.validator = OpenAPISchemaValidator(root: document)
    }

    func operation(_ method: String, _ template: String) -> JSONValue? {
        document["paths"]?[template]?[method.lowercased()]
    }

    func requestSchema(_ method: String, _ template: String) -> JSONValue? {
        guard let body = operation(method, template)?["requestBody"] else { return nil }
        return validator.resolved(body)["content"]?["application/json"]?["schema"]
    }

    /// Checks that `reply` has the expected status, that the operation documents that status, and
    /// that the body (or its absence) and the required headers are what the document says.
    /// `projected`: the request had `?fields=`, so objects may match a `...Projection` schema.
    func check(
        _ reply: Reply, _ method: String, _ template: String, expect status: Int, projected: Bool = false,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let label = "\(method) \(template) → \(reply.code)"
        #expect(reply.code == status, "\(label): expected \(status): \(reply.text.prefix(300))", sourceLocation: sourceLocation)
        guard let operation = operation(method, template) else {
            Issue.record("\(method) \(template) is not in the document", sourceLocation: sourceLocation)
            return
        }
        guard let documented = operation["responses"]?[String(reply.code)] else {
            Issue.record("\(label): status \(reply.code) is not documented for this operation", sourceLocation: sourceLocation)
            return
        }
        let response = validator.resolved(documented)
        var problems: [String] = []
        for (name, header) in response["headers"]?.objectValue ?? [:] where validator.resolved(header)["required"] == .bool(true) {
            if let field = HTTPField.Name(name), reply.headers[field] == nil { problems.append("header \(name) missing") }
        }
        if let schema = response["content"]?["application/json"]?["schema"] {
            if reply.headers[.contentType]?.hasPrefix("application/json") != true {
                problems.append("Content-Type \(reply.headers[.contentType] ?? "none"), not JSON")
            }
            if let body = reply.json {
                // Without `?fields=` the full objects must conform: projections do not count.
                problems += validator.errors(body, schema, projections: projected)
            } else {
                problems.append("the body is not JSON: \(reply.text.prefix(100))")
            }
        } else if !reply.text.isEmpty {
            problems.append("documented without a body, but the body is \(reply.text.prefix(100))")
        }
        #expect(problems.isEmpty, "\(label): \(problems)", sourceLocation: sourceLocation)
    }
}

/// A JSON Schema (2020-12) validator for the subset the document uses: `$ref` (local), `type`,
/// `enum`, `const`, `allOf`/`anyOf`/`oneOf`/`not`/`if`-`then`-`else`, `properties`/`required`/`additionalProperties`/
/// `propertyNames`, `items`/`minItems`, `minimum`/`maximum`, `minLength`/`maxLength`/`pattern` and
/// the `uuid` and `date-time` formats.
struct OpenAPISchemaValidator {
    let root: JSONValue

    /// The node a local `$ref` (`#/a/b`) points at.
    func pointee(_ pointer: String) -> JSONValue? {
        guard pointer == "#" || pointer.hasPrefix("#/") else { return nil }
        var node: JSONValue? = root
        for part in pointer.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) where !part.isEmpty {
            let key = part.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if case .array(let items)? = node, let index = Int(key) {
                node = index < items.count ? items[index] : nil
            } else {
                node = node?[key]
            }
        }
        return node
    }

    /// `value` with its `$ref` followed (for parameters, responses, headers and request bodies).
    func resolved(_ value: JSONValue) -> JSONValue {
        var current = value
        for _ in 0..<16 {
            guard case .string(let pointer)? = current["$ref"], let target = pointee(pointer) else { return current }
            current = target
        }
        return current
    }

    /// Records every `$ref` in `value` that points nowhere.
    func danglingRefs(in value: JSONValue, at path: String, into problems: inout [String]) {
        switch value {
        case .object(let o):
            for (key, child) in o {
                if key == "$ref", case .string(let pointer) = child, pointee(pointer) == nil {
                    problems.append("\(path): $ref \(pointer) resolves to nothing")
                }
                danglingRefs(in: child, at: "\(path)/\(key)", into: &problems)
            }
        case .array(let items):
            for (index, child) in items.enumerated() { danglingRefs(in: child, at: "\(path)/\(index)", into: &problems) }
        default:
            break
        }
    }

    /// Every way `value` violates `schema`, each with the JSON path where it does.
    /// `projections: false` leaves out `anyOf` branches that are `...Projection` schemas.
    func errors(_ value: JSONValue, _ schema: JSONValue, at path: String = "$", depth: Int = 0, projections: Bool = true) -> [String] {
        guard depth < 64 else { return ["\(path): schema nesting too deep"] }
        if case .bool(let allowed) = schema { return allowed ? [] : ["\(path): no value allowed"] }
        guard case .object(let s) = schema else { return [] }
        var out: [String] = []
        if case .string(let pointer)? = s["$ref"] {
            guard let target = pointee(pointer) else { return ["\(path): unresolvable $ref \(pointer)"] }
            out += errors(value, target, at: path, depth: depth + 1, projections: projections)
        }
        if let type = s["type"] {
            let allowed = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue].compactMap { $0 }
            if !allowed.contains(where: { Self.value(value, is: $0) }) {
                return out + ["\(path): \(value.typeName) where \(allowed.joined(separator: "|")) is expected"]
            }
        }
        if let choices = s["enum"]?.arrayValue, !choices.contains(value) {
            out.append("\(path): \(value.jsonString.prefix(60)) is not one of \(JSONValue.array(choices).jsonString)")
        }
        if let constant = s["const"], constant != value {
            out.append("\(path): \(value.jsonString.prefix(60)) is not \(constant.jsonString)")
        }
        for sub in s["allOf"]?.arrayValue ?? [] { out += errors(value, sub, at: path, depth: depth + 1, projections: projections) }
        if var branches = s["anyOf"]?.arrayValue {
            if !projections {
                branches.removeAll { $0["$ref"]?.stringValue?.hasSuffix("Projection") == true }
            }
            let failures = branches.map { errors(value, $0, at: path, depth: depth + 1, projections: projections) }
            if !failures.contains(where: \.isEmpty) {
                out.append("\(path): matches no anyOf branch: \(failures.map { $0.prefix(3).joined(separator: "; ") })")
            }
        }
        if let branches = s["oneOf"]?.arrayValue {
            let failures = branches.map { errors(value, $0, at: path, depth: depth + 1, projections: projections) }
            let matching = failures.filter(\.isEmpty).count
            if matching != 1 {
                out.append(
                    "\(path): matches \(matching) oneOf branches, not exactly one: \(failures.map { $0.prefix(3).joined(separator: "; ") })")
            }
        }
        if let condition = s["if"] {
            let holds = errors(value, condition, at: path, depth: depth + 1, projections: projections).isEmpty
            if let branch = holds ? s["then"] : s["else"] { out += errors(value, branch, at: path, depth: depth + 1, projections: projections) }
        }
        if let negated = s["not"], errors(value, negated, at: path, depth: depth + 1, projections: projections).isEmpty {
            out.append("\(path): matches a schema it must not match")
        }
        switch value {
        case .object(let o):
            for key in s["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where o[key] == nil {
                out.append("\(path): required key \(key) missing")
            }
            let properties = s["properties"]?.objectValue ?? [:]
            for (key, child) in o.sorted(by: { $0.key < $1.key }) {
                if let sub = properties[key] {
                    out += errors(child, sub, at: "\(path).\(key)", depth: depth + 1, projections: projections)
                } else if let additional = s["additionalProperties"] {
                    if additional == .bool(false) {
                        out.append("\(path): key \(key) is not documented")
                    } else {
                        out += errors(child, additional, at: "\(path).\(key)", depth: depth + 1, projections: projections)
                    }
                }
                if let names = s["propertyNames"] { out += errors(.string(key), names, at: "\(path){\(key)}", depth: depth + 1) }
            }
        case .array(let items):
            if let min = s["minItems"]?.schemaInt, items.count < min { out.append("\(path): fewer than \(min) items") }
            if let itemSchema = s["items"] {
                for (index, item) in items.enumerated() { out += errors(item, itemSchema, at: "\(path)[\(index)]", depth: depth + 1, projections: projections) }
            }
        case .int, .double:
            let number = value.schemaNumber ?? 0
            if let min = s["minimum"]?.schemaNumber, number < min { out.append("\(path): \(value.jsonString) < \(min)") }
            if let max = s["maximum"]?.schemaNumber, number > max { out.append("\(path): \(value.jsonString) > \(max)") }
        case .string(let text):
            let length = text.unicodeScalars.count
            if let min = s["minLength"]?.schemaInt, length < min { out.append("\(path): shorter than \(min)") }
            if let max = s["maxLength"]?.schemaInt, length > max { out.append("\(path): longer than \(max)") }
            if let pattern = s["pattern"]?.stringValue, !Self.search(pattern, in: text) {
                out.append("\(path): \(value.jsonString.prefix(60)) does not match \(pattern)")
            }
            switch s["format"]?.stringValue {
            case "uuid"? where UUID(uuidString: text) == nil:
                out.append("\(path): \(text) is not a uuid")
            case "date-time"? where !Self.search(#"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"#, in: text):
                out.append("\(path): \(text) is not an RFC 3339 date-time")
            default:
                break
            }
        default:
            break
        }
        return out
    }

    static func value(_ value: JSONValue, is type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object): true
        case ("number", .int), ("number", .double), ("integer", .int): true
        case ("integer", .double(let d)): d.rounded() == d
        default: false
        }
    }

    /// Whether `pattern` (ECMA-262 as JSON Schema has it; the document's patterns are also valid
    /// ICU) matches anywhere in `text`.
    static func search(_ pattern: String, in text: String) -> Bool {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return false }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

extension JSONValue {
    fileprivate var schemaInt: Int? {
        switch self {
        case .int(let i): Int(i)
        case .double(let d) where d.rounded() == d: Int(d)
        default: nil
        }
    }

    fileprivate var schemaNumber: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }
}
