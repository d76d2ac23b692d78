import DriveContent
import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

/// Drives' bytes (decisions 17 and 18; contract §2): the single-request upload, `/initupload/`
/// and the two chunk protocols, and the download.
struct ContentController {
    let content: ContentService
    let repository: any ContentRepository
    let drives: any DriveRepository
    let settings: APISettings

    var input: DriveInput { DriveInput(catalogue: settings.catalogue) }

    /// How long a per-chunk upload link stays valid (`do=upload_chunk`, U4).
    static let linkLifetime: TimeInterval = 300

    func register(on group: RouterGroup<DrivesRequestContext>) {
        group.resource("drives/upload", post: uploadSingle)
        // curl `-T file URL/` appends the file name; the name is ignored.
        group.resource("drives/upload/:name", post: uploadSingle)
        group.resource("initupload", post: initUpload)
        group.resource("drives/:uuid/upload", get: resumableCheck, post: resumableChunk)
        group.resource("drives/:uuid/download", get: download)
    }

    /// The per-chunk links need no credentials (U4): registered outside the authenticated group.
    func registerLinks(on router: Router<DrivesRequestContext>) {
        router.group("api/2.0").resource("drives/:uuid/upload_chunk/:token", post: linkChunk)
    }

    // MARK: Single-request upload

    /// `POST /drives/upload/`: the body is the raw image, streamed to disk; the answer is the new
    /// drive's uuid as text, the drive already `unmounted` (grown to the type's minimum).
    @Sendable func uploadSingle(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let type = settings.catalogue.defaultType
        if DriveRules.isEphemeral(type) { throw DriveRules.ephemeralUploadRefusal }
        let limits = try DriveRules.limits(type, in: settings.catalogue)
        var declared: Int64?
        if let header = request.headers[.contentLength] {
            guard let length = Int64(header) else { throw CloudSigmaError.validation("size", "Content-Length is not a number") }
            if length == 0 { throw CloudSigmaError.validation("size", "The upload is empty: send the image as the body") }
            try DriveRules.checkUpload(size: length, limits: limits)
            declared = length
        } else if request.headers[.transferEncoding] == nil {
            throw CloudSigmaError.validation("size", "The upload is empty: send the image as the body")
        }
        let name = "Upload_" + Self.uploadTimestamp(Date())
        let spec = DriveSpec(
            name: name, size: declared ?? limits.minSize, media: .disk, storageType: type)
        context.sendContinueIfExpected(request)
        let upload = try await content.beginStreamingUpload(owner: owner, spec: spec)
        do {
            for try await buffer in request.body {
                var chunk = buffer
                while chunk.readableBytes > 0 {
                    chunk.moveReaderIndex(forwardBy: chunk.withUnsafeReadableBytes { upload.take($0) })
                    try await upload.flushIfFull()
                }
                if upload.received > limits.maxSize {
                    throw CloudSigmaError.validation("size", "The upload is larger than the maximum of \(limits.maxSize) bytes")
                }
            }
            let drive = try await upload.finish()
            var response = Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: drive.uuid + "\n")))
            response.headers[.location] = drive.resourceURI
            return response
        } catch {
            await upload.abandon()
            throw Self.apiError(error)
        }
    }

    /// `Upload_2024-01-31 12:00:00` (UTC), as pycloudsigma names uploads.
    static func uploadTimestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }

    // MARK: Chunked uploads

    /// `POST /initupload/`: a drive in `uploading` with the exact size asked (U2): 201
    /// `{"objects": [drive]}`.
    @Sendable func initUpload(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let objects = try DriveInput.objects(of: try await request.jsonBody(limit: settings.bodyLimit))
        guard objects.count == 1 else {
            throw CloudSigmaError.validation("objects", objects.isEmpty ? "No drive to upload" : "One upload at a time")
        }
        let spec = try input.spec(objects[0], upload: true)
        let target = try await repository.beginUpload(
            owner: owner, spec: spec, single: false, extentSize: ContentDirectory.extentSize, now: Date())
        let drive = try await driveAnswer(owner: owner, uuid: target.uuid)
        var headers = HTTPFields()
        headers[.location] = drive.resourceURI
        return .json(bytes: DrivesController.objectsEnvelope([drive]), status: .created, headers: headers)
    }

    func driveAnswer(owner: String, uuid: String) async throws -> Drive {
        try await drives.drive(owner: owner, uuid: uuid)
    }

    /// The resumable.js test: 200 `{}` when the chunk's range is written, 404 when it is needed.
    @Sendable func resumableCheck(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let target = try await repository.uploadTarget(owner: owner, uuid: try context.parameters.require("uuid"))
        let parameters = ResumableParameters(query: QueryParameters(request.uri))
        let range = try parameters.range(size: target.size)
        guard target.hasWritten(range) else {
            throw CloudSigmaError(.notexist, "Chunk \(parameters.chunkNumber ?? 0) has not been uploaded yet")
        }
        return .json(.object([:]))
    }

    /// A resumable.js chunk: a multipart body whose parts carry the parameters (with or without a
    /// file name) and the bytes in `file`; answers 200 `{}`.
    @Sendable func resumableChunk(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let uuid = try context.parameters.require("uuid")
        let target = try await repository.uploadTarget(owner: owner, uuid: uuid)
        guard target.status == .uploading else {
            throw DriveLifecycle.refusal("upload to", target.status, expected: [.uploading])
        }
        context.sendContinueIfExpected(request)
        let body = try await Self.collect(request, limit: settings.uploadChunkLimit)
        var parameters = ResumableParameters(query: QueryParameters(request.uri))
        var file: [UInt8]? = nil
        if let boundary = Multipart.boundary(request.headers[.contentType]) {
            for part in Multipart.parts(body, boundary: boundary) {
                if part.name == "file" {
                    file = part.body
                } else if let value = String(bytes: part.body, encoding: .utf8) {
                    parameters.set(part.name, value.trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
        } else {
            file = body
        }
        guard let file else { throw CloudSigmaError.validation("file", "The chunk has no file part") }
        let range = try parameters.range(size: target.size)
        if let total = parameters.totalSize, total != target.size {
            throw CloudSigmaError.validation(
                "resumableTotalSize", "resumableTotalSize \(total) is not the drive's size \(target.size)")
        }
        try await write(range, of: target, bytes: file)
        return .json(.object([:]))
    }

    /// `do=upload_chunk`: a link for one chunk (0-based; the last chunk runs to the end), 416
    /// when that chunk is written already.
    func chunkLink(_ request: Request, owner: String, uuid: String) async throws -> Response {
        let target = try await repository.uploadTarget(owner: owner, uuid: uuid)
        guard target.status == .uploading else {
            throw DriveLifecycle.refusal("upload to", target.status, expected: [.uploading])
        }
        guard case .object(let body)? = try await request.jsonBody(limit: settings.bodyLimit) else {
            throw CloudSigmaError.validation(nil, "The body needs chunk_number (and chunk_size)")
        }
        guard let number = body["chunk_number"].flatMap(Self.integer) else {
            throw CloudSigmaError.validation("chunk_number", "chunk_number must be an integer")
        }
        let chunkSize = body["chunk_size"].flatMap(Self.integer) ?? 5 * 1024 * 1024
        guard chunkSize >= 1 else { throw CloudSigmaError.validation("chunk_size", "chunk_size must be at least 1") }
        let count = max(1, target.size / chunkSize)
        guard number >= 0, number < count else {
            throw CloudSigmaError.validation("chunk_number", "Chunk \(number) is outside 0..\(count - 1)")
        }
        let start = number * chunkSize
        let end = number == count - 1 ? target.size : start + chunkSize
        guard !target.hasWritten(start..<end) else { throw Self.alreadyUploaded(number) }
        let token = Self.token()
        try await repository.addUploadLink(
            owner: owner, uuid: uuid, token: token, range: start..<end, expires: Date().addingTimeInterval(Self.linkLifetime))
        return .json(.object(["link": .string("/api/2.0/drives/\(uuid)/upload_chunk/\(token)/")]))
    }

    /// `POST <link>`: the raw chunk, no credentials.
    @Sendable func linkChunk(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let uuid = try context.parameters.require("uuid")
        let token = try context.parameters.require("token")
        guard let (target, range) = try await repository.uploadLink(token: token, now: Date()), target.uuid == uuid else {
            throw CloudSigmaError(.notexist, "This upload link does not exist or has expired")
        }
        if target.hasWritten(range) {
            throw Self.alreadyUploaded(range.lowerBound, bytes: true)
        }
        context.sendContinueIfExpected(request)
        let body = try await Self.collect(request, limit: settings.uploadChunkLimit)
        try await write(range, of: target, bytes: body)
        return .json(.object([:]))
    }

    func write(_ range: Range<Int64>, of target: UploadTarget, bytes: [UInt8]) async throws {
        if bytes.count != range.count {
            content.logger.warning(
                "chunk body length differs from its range: clamped or zero-filled",
                metadata: [
                    "drive": "\(target.uuid)", "range": "\(range.lowerBound)-\(range.upperBound)", "body_bytes": "\(bytes.count)",
                ])
        }
        do {
            _ = try await content.write(range, of: target, bytes: bytes)
        } catch {
            throw Self.apiError(error)
        }
    }

    static func alreadyUploaded(_ number: Int64, bytes: Bool = false) -> CloudSigmaError {
        CloudSigmaError(
            .rangeNotSatisfiable, point: "chunk_number",
            bytes ? "Chunk at byte \(number) already uploaded" : "Chunk \(number) already uploaded")
    }

    static func integer(_ value: JSONValue) -> Int64? {
        switch value {
        case .int(let n): return n
        case .string(let s): return Int64(s)
        case .double(let d) where d == d.rounded() && abs(d) < 9e15: return Int64(d)
        default: return nil
        }
    }

    static func token() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(generator.next() as UInt64, radix: 16).leftPadded(16) }.joined()
    }

    static func collect(_ request: Request, limit: Int) async throws -> [UInt8] {
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw CloudSigmaError(.tooLarge, "The chunk is larger than the limit of \(limit) bytes")
        } catch is NIOTooManyBytesError {
            throw CloudSigmaError(.tooLarge, "The chunk is larger than the limit of \(limit) bytes")
        }
    }

    static func apiError(_ error: any Error) -> any Error {
        if let error = error as? ContentError { return error.apiError }
        return error
    }

    // MARK: Download

    /// `GET`/`HEAD /drives/{uuid}/download/`: 200 with the whole content, 206 for one range,
    /// 416 when unsatisfiable; streamed, zeros produced without reading the disk.
    @Sendable func download(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let owner = try context.requireUser().uuid
        let uuid = try context.parameters.require("uuid")
        let read: ContentRead
        do {
            read = try await content.openRead(owner: owner, uuid: uuid)
        } catch {
            throw Self.apiError(error)
        }
        let size = read.size
        var headers: HTTPFields = [
            .contentType: "application/octet-stream", .acceptRanges: "bytes",
            .contentDisposition: "attachment; filename=\"\(uuid)\"",
        ]
        var status = HTTPResponse.Status.ok
        var range: Range<Int64> = 0..<size
        switch ByteRangeHeader.parse(request.headers[.range], size: size) {
        case .none, .ignored:
            break
        case .unsatisfiable:
            read.close()
            var response = Response.error(
                CloudSigmaError(.rangeNotSatisfiable, point: "Range", "The range is outside the drive's \(size) bytes"))
            response.headers[.contentRange] = "bytes */\(size)"
            return response
        case .range(let r):
            range = r
            status = .partialContent
            headers[.contentRange] = "bytes \(r.lowerBound)-\(r.upperBound - 1)/\(size)"
        }
        if request.method == .head {
            read.close()
            headers[.contentLength] = String(range.count)
            return Response(status: status, headers: headers)
        }
        do {
            // Hashing a file not verified since it changed takes about 2 ms a 4 MiB extent:
            // not on a thread that serves requests.
            let checked = range
            try await Offload.run { try read.verify(checked) }
        } catch {
            read.close()
            throw Self.apiError(error)
        }
        let pieces = read.pieces(range)
        let body = ResponseBody(contentLength: Int(range.count)) { writer in
            defer { read.close() }
            let zeros = ByteBuffer(repeating: 0, count: 1 << 20)
            // Eight buffers in turn, each reused once the channel is done with it (by the time
            // its turn comes back, it has usually been written; if not, ByteBuffer copies on
            // write): memory stays at a few pieces whatever the drive's size, and few pieces
            // allocate. With three, a third of the pieces of a 512 MiB download found their
            // buffer still queued in the channel and allocated a fresh one (new pages faulted
            // in, 12% of the samples); with eight, 2-10%.
            var buffers = (0..<8).map { _ in ByteBufferAllocator().buffer(capacity: 1 << 20) }
            var turn = 0
            for piece in pieces {
                if piece.zeros {
                    try await writer.write(piece.count == zeros.readableBytes ? zeros : zeros.getSlice(at: 0, length: piece.count)!)
                    continue
                }
                turn = (turn + 1) % buffers.count
                var buffer = buffers[turn]
                buffers[turn] = ByteBuffer()  // so that `buffer` is the only reference here
                buffer.clear()
                try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: piece.count) { pointer in
                    try read.read(piece, into: UnsafeMutableRawBufferPointer(rebasing: pointer[0..<piece.count]))
                    return piece.count
                }
                try await writer.write(buffer)
                buffers[turn] = buffer
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }
}

/// The resumable.js parameters of a chunk, from the query string or multipart parts.
struct ResumableParameters {
    var chunkNumber: Int64?
    var chunkSize: Int64?
    var totalSize: Int64?

    init(query: QueryParameters) {
        for (name, value) in query.pairs { set(name, value) }
    }

    mutating func set(_ name: String, _ value: String) {
        switch name {
        case "resumableChunkNumber": chunkNumber = Int64(value)
        case "resumableChunkSize": chunkSize = Int64(value)
        case "resumableTotalSize": totalSize = Int64(value)
        default: break
        }
    }

    /// The byte range of chunk n (1-based): `[(n-1)·cs, n·cs)`, the last chunk to the end.
    func range(size: Int64) throws -> Range<Int64> {
        guard let number = chunkNumber else {
            throw CloudSigmaError.validation("resumableChunkNumber", "resumableChunkNumber is missing or not a number")
        }
        guard let chunkSize, chunkSize >= 1 else {
            throw CloudSigmaError.validation("resumableChunkSize", "resumableChunkSize is missing or not a positive number")
        }
        let count = max(1, size / chunkSize)
        guard number >= 1, number <= count else {
            throw CloudSigmaError.validation("resumableChunkNumber", "Chunk \(number) is outside 1..\(count)")
        }
        let start = (number - 1) * chunkSize
        return start..<(number == count ? size : start + chunkSize)
    }
}

/// `Range: bytes=...` (RFC 9110): one range answers 206; several are ignored (200).
enum ByteRangeHeader: Equatable {
    case none, ignored, unsatisfiable
    case range(Range<Int64>)

    static func parse(_ header: String?, size: Int64) -> ByteRangeHeader {
        guard let header else { return .none }
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .ignored }
        let spec = trimmed.dropFirst(6)
        if spec.contains(",") { return .ignored }
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard parts.count == 2 else { return .ignored }
        if parts[0].isEmpty {
            guard let suffix = Int64(parts[1]), suffix >= 0 else { return .ignored }
            if suffix == 0 || size == 0 { return .unsatisfiable }
            return .range(max(0, size - suffix)..<size)
        }
        guard let first = Int64(parts[0]), first >= 0 else { return .ignored }
        let last: Int64
        if parts[1].isEmpty {
            last = size - 1
        } else {
            guard let value = Int64(parts[1]), value >= first else { return .ignored }
            last = min(value, size - 1)
        }
        guard first < size else { return .unsatisfiable }
        return .range(first..<(last + 1))
    }
}

/// Just enough of multipart/form-data for resumable.js chunks.
enum Multipart {
    struct Part {
        var name: String
        var body: [UInt8]
    }

    static func boundary(_ contentType: String?) -> String? {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/") else { return nil }
        for item in contentType.split(separator: ";") {
            let pair = item.trimmingCharacters(in: .whitespaces)
            if pair.lowercased().hasPrefix("boundary=") {
                var value = String(pair.dropFirst(9))
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }

    static func parts(_ body: [UInt8], boundary: String) -> [Part] {
        let delimiter = Array(("--" + boundary).utf8)
        var positions: [Int] = []
        var i = 0
        while let found = find(delimiter, in: body, from: i) {
            positions.append(found)
            i = found + delimiter.count
        }
        var parts: [Part] = []
        for (start, end) in zip(positions, positions.dropFirst()) {
            var partStart = start + delimiter.count
            // Skip the CRLF after the delimiter.
            if partStart + 1 < body.count, body[partStart] == 13, body[partStart + 1] == 10 { partStart += 2 }
            // The part ends before the CRLF preceding the next delimiter.
            var partEnd = end
            if partEnd >= 2, body[partEnd - 2] == 13, body[partEnd - 1] == 10 { partEnd -= 2 }
            guard partStart <= partEnd, let headerEnd = find([13, 10, 13, 10], in: body, from: partStart), headerEnd <= partEnd
            else { continue }
            let headers = String(decoding: body[partStart..<headerEnd], as: UTF8.self)
            guard let name = Self.name(headers) else { continue }
            parts.append(Part(name: name, body: Array(body[(headerEnd + 4)..<partEnd])))
        }
        return parts
    }

    static func name(_ headers: String) -> String? {
        for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
            for item in line.split(separator: ";") {
                let pair = item.trimmingCharacters(in: .whitespaces)
                if pair.hasPrefix("name=") {
                    var value = String(pair.dropFirst(5))
                    if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                    return value
                }
            }
        }
        return nil
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        let first = needle[0]
        var i = from
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first {
                var match = true
                for j in 1..<needle.count where haystack[i + j] != needle[j] {
                    match = false
                    break
                }
                if match { return i }
            }
            i += 1
        }
        return nil
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension HTTPField.Name {
    static let contentDisposition = HTTPField.Name("Content-Disposition")!
}
