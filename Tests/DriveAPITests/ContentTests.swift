import DriveAPI
@testable import DriveContent
import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Drives that hold bytes (decisions 17–18, contract §2): uploads, downloads, copy-on-write
/// clones and the removal of what nothing references.
@Suite struct ContentTests {
    /// Small minimum sizes, so that whole drives can be downloaded in a router test.
    static let settings: APISettings = {
        var types = StorageTypeLimits.defaults
        for i in types.indices {
            types[i].minSize = 8 * 1024 * 1024
        }
        return APISettings(catalogue: StorageCatalogue(types: types, defaultType: "dssd"), durations: OperationDurations.stepped)
    }()
    static let minimum = 8 * 1024 * 1024
    static let extentSize = 4 * 1024 * 1024

    /// `count` pseudo-random bytes, the same for the same seed: eight a step, so that the
    /// megabytes the upload tests send take milliseconds in a debug build (a byte a step took
    /// seconds).
    static func random(_ count: Int, seed: UInt64 = 42) -> [UInt8] {
        var state = seed
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            while offset < count {
                // SplitMix64.
                state = state &+ 0x9E37_79B9_7F4A_7C15
                var word = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
                word = (word ^ (word >> 27)) &* 0x94D0_49BB_1331_11EB
                word ^= word >> 31
                let n = min(8, count - offset)
                withUnsafeBytes(of: word) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: n) }
                offset += n
            }
            initialized = count
        }
    }

    func storage(_ env: TestEnv) async throws -> ContentStats {
        try await env.api.stores.content.stats()
    }

    /// A single upload of `bytes`; answers the new uuid.
    func upload(_ env: TestEnv, _ bytes: [UInt8], path: String = "/api/2.0/drives/upload/", as account: Account? = nil)
        async throws -> String
    {
        let reply = try await env.send(
            .post, path, bytes: bytes, as: account,
            headers: [.contentType: "application/octet-stream", .contentLength: String(bytes.count)])
        try #require(reply.status == .ok, "upload failed: \(String(decoding: reply.body, as: UTF8.self))")
        return String(decoding: reply.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: Single upload

    @Test func singleUploadAnswersTheUUIDAsTextWithTheDriveUnmountedAndGrownToTheMinimum() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let data = Self.random(3_000_000)
            let reply = try await env.send(
                .post, "/api/2.0/drives/upload/", bytes: data,
                headers: [.contentType: "application/octet-stream", .contentLength: String(data.count)])
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType] == "text/plain; charset=utf-8")
            let uuid = String(decoding: reply.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(uuid.count == 36)
            let drive = try await env.get("/api/2.0/drives/\(uuid)/")
            #expect(drive.json?["status"]?.stringValue == "unmounted")
            #expect(drive.json?["size"]?.intValue == Int64(Self.minimum))
            #expect(drive.json?["media"]?.stringValue == "disk")
            #expect(drive.json?["name"]?.stringValue?.hasPrefix("Upload_") == true)
            // The whole content: the bytes sent, then zeros up to the size.
            let download = try await env.send(.get, "/api/2.0/drives/\(uuid)/download/")
            #expect(download.status == .ok)
            #expect(download.body.count == Self.minimum)
            #expect(sameBytes(Array(download.body[0..<data.count]), data))
            #expect(download.body[data.count...].allSatisfy { $0 == 0 })
            #expect(download.headers[.contentType] == "application/octet-stream")
            #expect(download.headers[HTTPField.Name("Content-Disposition")!] == "attachment; filename=\"\(uuid)\"")
            #expect(download.headers[.acceptRanges] == "bytes")
        }
    }

    @Test func theFileNameInTheUploadPathIsIgnored() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let data = Self.random(10_000, seed: 7)
            let uuid = try await upload(env, data, path: "/api/2.0/drives/upload/disk-image.raw")
            let head = try await env.send(.get, "/api/2.0/drives/\(uuid)/download/", headers: [.range: "bytes=0-9999"])
            #expect(head.status == .partialContent)
            #expect(sameBytes(head.body, data))
        }
    }

    @Test func anUnauthenticatedUploadIs401AndCreatesNothing() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let reply = try await env.send(
                .post, "/api/2.0/drives/upload/", bytes: Self.random(1000), authenticated: false,
                headers: [.contentLength: "1000"])
            #expect(reply.status == .unauthorized)
            #expect(try await env.api.stores.drives.list(owner: env.alice.user.uuid, query: DriveQuery()).total == 0)
            #expect(try await storage(env).images == 5)  // the library's five, nothing else
        }
    }

    @Test func anEmptyUploadIs400OnSize() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let reply = try await env.send(.post, "/api/2.0/drives/upload/", bytes: [], headers: [.contentLength: "0"])
            #expect(reply.status == .badRequest)
            let error = try JSONDecoder().decode(JSONValue.self, from: Data(reply.body))
            #expect(error.arrayValue?.first?["error_point"]?.stringValue == "size")
            #expect(error.arrayValue?.first?["error_type"]?.stringValue == "validation")
        }
    }

    @Test func zerosAreNotStored() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            var data = [UInt8](repeating: 0, count: 9 * 1024 * 1024)
            data[data.count - 1] = 1
            let before = try await storage(env)
            let uuid = try await upload(env, data)
            let after = try await storage(env)
            // Only the last extent (from 8 MiB to 9 MiB) holds a non-zero byte.
            #expect(after.storedBytes - before.storedBytes == 1024 * 1024)
            #expect(after.pieces - before.pieces == 1)
            let download = try await env.send(.get, "/api/2.0/drives/\(uuid)/download/")
            #expect(sameBytes(download.body, data))
        }
    }

    @Test func aSingleUploadWritesItsExtentsInOrderWhileTheNextOneFills() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            // Extents: random, zeros, random, then a partial one; sent in chunks that straddle
            // the extents' boundaries, so each flush hands one buffer on while the next fills.
            let e = Self.extentSize
            let data = Self.random(e, seed: 1) + [UInt8](repeating: 0, count: e) + Self.random(e, seed: 2)
                + Self.random(e / 2 + 12345, seed: 3)
            let upload = try await env.api.content.beginStreamingUpload(
                owner: env.alice.user.uuid, spec: DriveSpec(name: "piped", size: Int64(data.count), media: .disk, storageType: "dssd"))
            var offset = 0
            while offset < data.count {
                let end = min(offset + 1_000_003, data.count)
                try await upload.append(Array(data[offset..<end]))
                offset = end
            }
            let drive = try await upload.finish()
            #expect(drive.status == .unmounted)
            let image = try #require(upload.target.image)
            let extents = try await env.api.stores.content.storedExtents().filter { $0.image == image }.sorted { $0.index < $1.index }
            #expect(extents.map(\.index) == [0, 2, 3])
            #expect(extents.map(\.length) == [Int64(e), Int64(e), Int64(e / 2 + 12345)])
            // Each recorded checksum is the one of the file's bytes, read back and hashed anew.
            for extent in extents {
                let found = try #require(try env.api.content.directory.inspect(image: image, index: extent.index))
                #expect(found.checksum == extent.checksum)
            }
            #expect(try await env.api.content.verify(repair: false).damaged.isEmpty)
            let download = try await env.send(.get, "/api/2.0/drives/\(upload.uuid)/download/")
            #expect(download.status == .ok)
            let same = sameBytes(download.body, data)
            #expect(same, "the download differs from the upload")
        }
    }

    @Test func anExtentsHashIsTakenBesideItsWriteAndAFailedWriteStillThrows() throws {
        struct Refused: Error {}
        for count in [1000, 1 << 20, 3 * (1 << 20) + 7] {
            let bytes = Self.random(count, seed: UInt64(count))
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("hash-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: root) }
            let directory = ContentDirectory(root: root)
            try directory.prepare()
            let file = try bytes.withUnsafeBytes { try directory.writeExtent(image: 7, index: 0, bytes: $0) }
            let found = try #require(try directory.inspect(image: 7, index: 0))
            #expect(found.size == Int64(count))
            #expect(file.checksum == found.checksum, "\(count) bytes")
            #expect(throws: Refused.self) {
                try bytes.withUnsafeBytes { bytes in _ = try ContentDirectory.hashing(bytes) { throw Refused() } }
            }
        }
    }

    @Test func anInterruptedSingleUploadIsRemovedAtStart() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let before = try await storage(env)
            let upload = try await env.api.content.beginStreamingUpload(
                owner: env.alice.user.uuid, spec: DriveSpec(name: "cut", size: 9_000_000, media: .disk, storageType: "dssd"))
            try await upload.append(Self.random(5 * 1024 * 1024))
            try await upload.settle()  // the first extent is on disk
            #expect(try await env.status(upload.uuid) == "uploading")
            #expect(try env.api.content.directory.listing()[upload.target.image!]?.count == 1)
            // The process died here; at the next start:
            let prepared = try await env.api.content.prepare()
            #expect(prepared.interruptedUploads == 1)
            _ = try await env.api.outboxRunner.drain()
            #expect(try await env.get("/api/2.0/drives/\(upload.uuid)/").code == 404)
            #expect(try env.api.content.directory.listing()[upload.target.image!] == nil)
            #expect(try await storage(env) == before)
        }
    }

    // MARK: Download

    @Test func rangesAnswer206OrAre416() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let data = Self.random(100_000, seed: 3)
            let uuid = try await upload(env, data)
            let path = "/api/2.0/drives/\(uuid)/download/"
            let size = Self.minimum
            let middle = try await env.send(.get, path, headers: [.range: "bytes=100-199"])
            #expect(middle.status == .partialContent)
            #expect(sameBytes(middle.body, Array(data[100..<200])))
            #expect(middle.headers[.contentRange] == "bytes 100-199/\(size)")
            let suffix = try await env.send(.get, path, headers: [.range: "bytes=-10"])
            #expect(suffix.status == .partialContent)
            #expect(sameBytes(suffix.body, [UInt8](repeating: 0, count: 10)))
            #expect(suffix.headers[.contentRange] == "bytes \(size - 10)-\(size - 1)/\(size)")
            let open = try await env.send(.get, path, headers: [.range: "bytes=99990-"])
            #expect(open.body.count == size - 99990)
            #expect(Array(open.body[0..<10]) == Array(data[99990..<100_000]))
            let clamped = try await env.send(.get, path, headers: [.range: "bytes=0-\(size * 2)"])
            #expect(clamped.status == .partialContent)
            #expect(clamped.body.count == size)
            let outside = try await env.send(.get, path, headers: [.range: "bytes=\(size)-"])
            #expect(outside.status == .rangeNotSatisfiable)
            #expect(outside.headers[.contentRange] == "bytes */\(size)")
            let several = try await env.send(.get, path, headers: [.range: "bytes=0-1,5-6"])
            #expect(several.status == .ok)
            #expect(several.body.count == size)
            let head = try await env.send(.head, path, headers: [.range: "bytes=0-99"])
            #expect(head.status == .partialContent)
            #expect(head.headers[.contentLength] == "100")
            #expect(head.body.isEmpty)
        }
    }

    @Test func downloadFollowsTheStateMachineAndOwnership() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            // `creating` (the worker is not running): 403 with the real API's message.
            let creating = try await env.createDrive(size: 16 * 1024 * 1024)
            let refused = try await env.send(.get, "/api/2.0/drives/\(creating)/download/")
            #expect(refused.status == .forbidden)
            #expect(String(decoding: refused.body, as: UTF8.self).contains("Cannot download drive in state \\\"creating\\\""))
            try await env.tick()
            let blank = try await env.send(.get, "/api/2.0/drives/\(creating)/download/", headers: [.range: "bytes=0-1048575"])
            #expect(blank.status == .partialContent)
            #expect(sameBytes(blank.body, [UInt8](repeating: 0, count: 1_048_576)))
            // Ephemeral types: "Download No".
            let ephemeral = try await env.createDrive(size: 16 * 1024 * 1024, extra: #", "storage_type": "local_nvme""#)
            try await env.tick()
            #expect(try await env.send(.get, "/api/2.0/drives/\(ephemeral)/download/").status == .forbidden)
            // Another account's drive, an unknown uuid: 404; a library drive: 403.
            #expect(try await env.send(.get, "/api/2.0/drives/\(creating)/download/", as: env.bob).status == .notFound)
            #expect(try await env.send(.get, "/api/2.0/drives/\(UUID().uuidString.lowercased())/download/").status == .notFound)
            let library = try await env.get("/api/2.0/libdrives/?limit=1").json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue
            #expect(try await env.send(.get, "/api/2.0/drives/\(try #require(library))/download/").status == .forbidden)
        }
    }

    // MARK: Clones

    @Test func aCloneSharesItsSourcesBytesWithoutStoringAny() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let data = Self.random(5 * 1024 * 1024, seed: 11)
            let source = try await upload(env, data)
            let before = try await storage(env)
            let reply = try await env.request(.post, "/api/2.0/drives/\(source)/action/?do=clone", body: #"{"size": 33554432}"#)
            #expect(reply.code == 202)
            let clone = try #require(reply.first?["uuid"]?.stringValue)
            let after = try await storage(env)
            #expect(after.storedBytes == before.storedBytes)
            #expect(after.pieces == before.pieces)
            #expect(after.images == before.images)
            #expect(after.sharedBytes == Int64(data.count))
            // While it copies, the clone cannot be read; the source can (cloning_src).
            #expect(try await env.send(.get, "/api/2.0/drives/\(clone)/download/").status == .forbidden)
            #expect(try await env.send(.get, "/api/2.0/drives/\(source)/download/", headers: [.range: "bytes=0-9"]).status == .partialContent)
            try await env.tick()
            let copy = try await env.send(.get, "/api/2.0/drives/\(clone)/download/")
            #expect(copy.body.count == 32 * 1024 * 1024)
            #expect(sameBytes(Array(copy.body[0..<data.count]), data))
            #expect(copy.body[data.count...].allSatisfy { $0 == 0 })

            // Space comes back once nothing references the bytes.
            #expect(try await env.request(.delete, "/api/2.0/drives/\(source)/").code == 204)
            _ = try await env.api.outboxRunner.drain()
            #expect(try await storage(env).storedBytes == before.storedBytes)
            let still = try await env.send(.get, "/api/2.0/drives/\(clone)/download/", headers: [.range: "bytes=0-99"])
            #expect(sameBytes(still.body, Array(data[0..<100])))
            #expect(try await env.request(.delete, "/api/2.0/drives/\(clone)/").code == 204)
            _ = try await env.api.outboxRunner.drain()
            let gone = try await storage(env)
            #expect(gone.storedBytes == before.storedBytes - Int64(data.count))
            #expect(gone.images == before.images - 1)
            let report = try await env.api.content.sweep(repair: false)
            #expect(report.unreferencedImages.isEmpty && report.unreferencedFiles.isEmpty)
            #expect(try env.api.content.directory.listing().count == Int(gone.images))
        }
    }

    @Test func aResizeKeepsTheBytesAndAddsZeros() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let data = Self.random(1000, seed: 5)
            let uuid = try await upload(env, data)
            let reply = try await env.request(
                .post, "/api/2.0/drives/\(uuid)/action/?do=resize", body: #"{"name": "r", "size": 16777216, "media": "disk"}"#)
            #expect(reply.code == 202)
            try await env.tick()
            let download = try await env.send(.get, "/api/2.0/drives/\(uuid)/download/")
            #expect(download.body.count == 16 * 1024 * 1024)
            #expect(sameBytes(Array(download.body[0..<1000]), data))
            #expect(download.body[1000...].allSatisfy { $0 == 0 })
        }
    }

    @Test func aLibraryCloneHoldsTheLibraryHeader() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let library = try #require(try await env.get("/api/2.0/libdrives/?limit=1").json?["objects"]?.arrayValue?.first)
            let uuid = try #require(library["uuid"]?.stringValue)
            let reply = try await env.request(.post, "/api/2.0/libdrives/\(uuid)/action/?do=clone")
            let clone = try #require(reply.first?["uuid"]?.stringValue)
            try await env.tick()
            let head = try await env.send(.get, "/api/2.0/drives/\(clone)/download/", headers: [.range: "bytes=0-4095"])
            let expected = ContentService.libraryHeader(uuid: uuid, name: try #require(library["name"]?.stringValue))
            #expect(Array(head.body[0..<expected.count]) == expected)
            #expect(head.body[expected.count...].allSatisfy { $0 == 0 })
            // A blank drive reads differently.
            #expect(String(decoding: expected[0..<21], as: UTF8.self) == "DRIVESD LIBRARY DRIVE")
        }
    }

    // MARK: Chunked uploads

    func initUpload(_ env: TestEnv, size: Int) async throws -> String {
        let reply = try await env.request(.post, "/api/2.0/initupload/", body: #"{"name": "up", "size": \#(size), "media": "disk"}"#)
        try #require(reply.code == 201, "initupload: \(reply.text)")
        #expect(reply.first?["status"]?.stringValue == "uploading")
        #expect(reply.first?["size"]?.intValue == Int64(size))
        return try #require(reply.first?["uuid"]?.stringValue)
    }

    /// A resumable.js chunk as pycloudsigma sends it: every item a file part.
    func multipart(_ fields: [(String, [UInt8])], boundary: String = "b0undary") -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in fields {
            out += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(name)\"\r\n\r\n".utf8)
            out += value
            out += Array("\r\n".utf8)
        }
        out += Array("--\(boundary)--\r\n".utf8)
        return out
    }

    @Test func theResumableProtocolWritesChunksAndCompletesWithTheLastOne() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let size = 2_500_000
            let chunk = 1_000_000
            let data = Self.random(size, seed: 9)
            let uuid = try await initUpload(env, size: size)
            let base = "/api/2.0/drives/\(uuid)/upload/"
            func query(_ n: Int) -> String {
                "?resumableChunkNumber=\(n)&resumableChunkSize=\(chunk)&resumableTotalSize=\(size)&resumableIdentifier=f&resumableFilename=f"
            }
            // Two chunks: 1 covers [0, 1 MB), 2 (the last) runs to the end.
            #expect(try await env.send(.get, base + query(1)).status == .notFound)
            let ranges: [Int: Range<Int>] = [1: 0..<chunk, 2: chunk..<size]
            for n in [2, 1] {
                let body = multipart([
                    ("resumableChunkNumber", Array("\(n)".utf8)), ("resumableChunkSize", Array("\(chunk)".utf8)),
                    ("resumableTotalSize", Array("\(size)".utf8)), ("resumableIdentifier", Array("f".utf8)),
                    ("file", Array(data[ranges[n]!])),
                ])
                if n == 1 {
                    #expect(try await env.status(uuid) == "uploading")
                    #expect(try await env.send(.get, base + query(2)).status == .ok)
                }
                let reply = try await env.send(
                    .post, base, bytes: body, headers: [.contentType: "multipart/form-data; boundary=b0undary"])
                #expect(reply.status == .ok)
            }
            let drive = try await env.get("/api/2.0/drives/\(uuid)/")
            #expect(drive.json?["status"]?.stringValue == "unmounted")
            #expect(drive.json?["size"]?.intValue == Int64(Self.minimum))
            #expect(try await env.send(.get, base + query(1)).status == .ok)
            let download = try await env.send(.get, "/api/2.0/drives/\(uuid)/download/", headers: [.range: "bytes=0-\(size - 1)"])
            #expect(sameBytes(download.body, data))
            // A chunk of a finished drive: refused.
            #expect(
                try await env.send(
                    .post, base, bytes: multipart([("resumableChunkNumber", Array("1".utf8))]),
                    headers: [.contentType: "multipart/form-data; boundary=b0undary"]
                ).status == .forbidden)
        }
    }

    @Test func aShortChunkOverAHugeRangeStoresNothingAndWritesNoZeros() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            // One chunk covering a terabyte with a 10-byte body: the rest reads as zeros without
            // being written (a debug build writing a terabyte of zeros would never finish).
            let size = 1 << 40
            let uuid = try await initUpload(env, size: size)
            let before = try await storage(env)
            let reply = try await env.send(
                .post, "/api/2.0/drives/\(uuid)/upload/?resumableChunkNumber=1&resumableChunkSize=\(size)&resumableTotalSize=\(size)",
                bytes: multipart([("file", Array(repeating: 7, count: 10))]),
                headers: [.contentType: "multipart/form-data; boundary=b0undary"])
            #expect(reply.status == .ok)
            #expect(try await env.status(uuid) == "unmounted")
            let after = try await storage(env)
            #expect(after.storedBytes - before.storedBytes == Int64(Self.extentSize))
            #expect(after.pieces - before.pieces == 1)
            let head = try await env.send(.get, "/api/2.0/drives/\(uuid)/download/", headers: [.range: "bytes=0-19"])
            #expect(sameBytes(head.body, [UInt8](repeating: 7, count: 10) + [UInt8](repeating: 0, count: 10)))
        }
    }

    @Test func resumableParametersAreChecked() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let uuid = try await initUpload(env, size: 1000)
            let base = "/api/2.0/drives/\(uuid)/upload/"
            #expect(try await env.send(.get, base).status == .badRequest)
            #expect(try await env.send(.get, base + "?resumableChunkNumber=2&resumableChunkSize=1000").status == .badRequest)
            let wrongTotal = try await env.send(
                .post, base + "?resumableChunkNumber=1&resumableChunkSize=1000&resumableTotalSize=999",
                bytes: multipart([("file", Self.random(1000))]), headers: [.contentType: "multipart/form-data; boundary=b0undary"])
            #expect(wrongTotal.status == .badRequest)
            #expect(String(decoding: wrongTotal.body, as: UTF8.self).contains("resumableTotalSize"))
            #expect(try await env.status(uuid) == "uploading")
        }
    }

    @Test func chunkLinksNeedNoCredentialsAndAChunkWrittenIs416() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let size = 3_000_000
            let data = Self.random(size, seed: 13)
            let uuid = try await initUpload(env, size: size)
            func link(_ n: Int) async throws -> Reply {
                try await env.request(
                    .post, "/api/2.0/drives/\(uuid)/action/?do=upload_chunk", body: #"{"chunk_number": \#(n), "chunk_size": 1500000}"#)
            }
            let first = try await link(0)
            #expect(first.code == 200)
            let path = try #require(first.json?["link"]?.stringValue)
            #expect(path.hasPrefix("/api/2.0/drives/\(uuid)/upload_chunk/") && path.hasSuffix("/") && !path.contains("?"))
            // Valid for five minutes.
            let token = try #require(path.split(separator: "/").last.map(String.init))
            #expect(try await env.api.stores.content.uploadLink(token: token, now: Date().addingTimeInterval(290)) != nil)
            #expect(try await env.api.stores.content.uploadLink(token: token, now: Date().addingTimeInterval(301)) == nil)
            let written = try await env.send(.post, path, bytes: Array(data[0..<1_500_000]), authenticated: false)
            #expect(written.status == .ok)
            // Written already: the link action and the link itself answer 416.
            let again = try await link(0)
            #expect(again.code == 416)
            #expect(again.error.message?.contains("0") == true && again.error.message?.contains("already uploaded") == true)
            #expect(try await env.send(.post, path, bytes: [1], authenticated: false).status == .rangeNotSatisfiable)
            #expect(try await link(2).code == 400)
            #expect(
                try await env.send(.post, "/api/2.0/drives/\(uuid)/upload_chunk/not-a-token/", bytes: [1], authenticated: false).status
                    == .notFound)
            // A link is for its drive and its range only: on another drive's path it does not exist,
            // and that drive is untouched.
            let other = try await initUpload(env, size: size)
            let second = try #require(try await link(1).json?["link"]?.stringValue)
            let secondToken = try #require(second.split(separator: "/").last.map(String.init))
            let misused = try await env.send(
                .post, "/api/2.0/drives/\(other)/upload_chunk/\(secondToken)/", bytes: Array(data[1_500_000...]), authenticated: false)
            #expect(misused.status == .notFound)
            let probe = try await env.send(
                .get, "/api/2.0/drives/\(other)/upload/?resumableChunkNumber=2&resumableChunkSize=1500000&resumableTotalSize=\(size)")
            #expect(probe.status != .ok, "the other drive's chunk 2 reads as written")
            // A short body is zero-filled (U5); the last chunk completes the drive.
            let last = try #require(try await link(1).json?["link"]?.stringValue)
            #expect(try await env.send(.post, last, bytes: Array(data[1_500_000..<2_999_000]), authenticated: false).status == .ok)
            #expect(try await env.status(uuid) == "unmounted")
            let download = try await env.send(.get, "/api/2.0/drives/\(uuid)/download/", headers: [.range: "bytes=0-\(size - 1)"])
            #expect(Array(download.body[0..<2_999_000]) == Array(data[0..<2_999_000]))
            #expect(download.body[2_999_000...].allSatisfy { $0 == 0 })
        }
    }

    @Test func anUploadingDriveIsEditableAndDeletableButNothingElse() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let uuid = try await initUpload(env, size: 1000)
            let edit = try await env.request(.put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "renamed", "size": 1000, "media": "disk", "meta": {"k": "v"}}"#)
            #expect(edit.code == 200)
            #expect(edit.json?["name"]?.stringValue == "renamed")
            #expect(edit.json?["status"]?.stringValue == "uploading")
            let grow = try await env.request(.put, "/api/2.0/drives/\(uuid)/", body: #"{"name": "renamed", "size": 2000, "media": "disk"}"#)
            #expect(grow.code == 403)
            let resize = try await env.request(
                .post, "/api/2.0/drives/\(uuid)/action/?do=resize", body: #"{"name": "x", "size": 2000, "media": "disk"}"#)
            #expect(resize.code == 403)
            #expect(try await env.request(.post, "/api/2.0/drives/\(uuid)/action/?do=clone").code == 403)
            #expect(try await env.send(.get, "/api/2.0/drives/\(uuid)/download/").status == .forbidden)
            let before = try await storage(env)
            #expect(try await env.request(.delete, "/api/2.0/drives/\(uuid)/").code == 204)
            _ = try await env.api.outboxRunner.drain()
            #expect(try await storage(env).images == before.images - 1)
            #expect(try await env.get("/api/2.0/drives/\(uuid)/").code == 404)
        }
    }

    @Test func initUploadKeepsTheExactSizeAndChecksTheMaximum() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            _ = try await initUpload(env, size: 1)
            let tooBig = try await env.request(.post, "/api/2.0/initupload/", body: #"{"name": "x", "size": 99999999999999999, "media": "disk"}"#)
            #expect(tooBig.code == 400)
            #expect(tooBig.error.point == "size")
            let zero = try await env.request(.post, "/api/2.0/initupload/", body: #"{"name": "x", "size": 0, "media": "disk"}"#)
            #expect(zero.code == 400)
            let ephemeral = try await env.request(
                .post, "/api/2.0/initupload/", body: #"{"name": "x", "size": 10, "media": "disk", "storage_type": "local_nvme"}"#)
            #expect(ephemeral.code == 403)
        }
    }

    // MARK: Admin

    @Test func theStorageFiguresAreServedToTheAdmin() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            _ = try await upload(env, Self.random(2 * 1024 * 1024, seed: 21))
            let admin = "Basic " + Data("admin:admin".utf8).base64EncodedString()
            let reply = try await env.request(.get, "/_drivesd/storage", authenticated: false, headers: [.authorization: admin])
            #expect(reply.code == 200)
            let stats = try await storage(env)
            #expect(reply.json?["stored_bytes"]?.intValue == stats.storedBytes)
            #expect(reply.json?["logical_bytes"]?.intValue == Int64(Self.minimum))
            #expect(stats.storedBytes >= 2 * 1024 * 1024)
            #expect(try await env.request(.get, "/_drivesd/storage").code == 401)
            let metrics = try await env.request(.get, "/_drivesd/metrics", authenticated: false, headers: [.authorization: admin])
            #expect(metrics.text.contains("drivesd_content_stored_bytes \(stats.storedBytes)\n"))
            #expect(metrics.text.contains("drivesd_content_logical_bytes \(Self.minimum)\n"))
        }
    }

    @Test func verifyFindsDamageAndDownloadsRefuseDamagedContent() async throws {
        try await withDrivesd(settings: Self.settings) { env in
            let uuid = try await upload(env, Self.random(5 * 1024 * 1024, seed: 23))
            var report = try await env.api.content.verify(repair: false)
            #expect(report.damaged.isEmpty)
            #expect(report.unreferenced.isEmpty)
            // Truncate the second extent behind drivesd's back.
            let extents = try await env.api.stores.content.storedExtents()
            let victim = try #require(extents.first { $0.index == 1 && $0.length == 1024 * 1024 })
            let path = env.api.content.directory.extentPath(image: victim.image, index: 1)
            #expect(truncate(path, 100) == 0)
            report = try await env.api.content.verify(repair: false)
            #expect(report.damaged.count == 1)
            #expect(report.damaged.first?.hasPrefix(path) == true)
            let download = try await env.send(.get, "/api/2.0/drives/\(uuid)/download/")
            #expect(download.status == .internalServerError)
            // A file nothing references is listed, and removed with repair.
            let stray = env.api.content.directory.imageDirectory(999_999)
            try FileManager.default.createDirectory(atPath: stray, withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: stray + "/0", contents: Data([1])))
            report = try await env.api.content.verify(repair: true)
            #expect(report.unreferenced == [stray])
            #expect(!FileManager.default.fileExists(atPath: stray))
        }
    }
}

extension JSONValue {
    var intValue: Int64? {
        if case .int(let n) = self { return n }
        return nil
    }
}

extension StreamingUpload {
    /// Appends `bytes` as the upload route feeds a request's body: ``take(_:)`` and
    /// ``flushIfFull()`` until all are taken.
    func append(_ bytes: [UInt8]) async throws {
        var offset = 0
        while offset < bytes.count {
            offset += bytes.withUnsafeBytes { take(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            try await flushIfFull()
        }
    }
}
