import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import Logging
import Synchronization

/// Drives' bytes: uploads (whole or by ranges), reads, and the removal of what nothing
/// references. The database side (which extents an image has, which ranges an upload has) goes
/// through ``ContentRepository``; the bytes through ``ContentDirectory``.
public final class ContentService: Sendable {
    public let directory: ContentDirectory
    let repository: any ContentRepository
    let catalogue: StorageCatalogue
    public let logger: Logger
    /// Images being read (image id → readers): their files are not removed until released.
    let leases = Mutex<[Int64: Int]>([:])
    /// Writes into one upload are serialised (their bookkeeping reads, then writes, the ranges).
    let uploadLocks = KeyedLock()
    /// Extent files whose bytes matched their recorded checksum, with the stamp they had then
    /// (see ``ContentRead/verify(_:)``), by image then extent index: an image's entries go
    /// with its files. Bounded: emptied when it reaches `verifiedLimit` extents.
    let verified = Mutex(VerifiedExtents())
    static let verifiedLimit = 100_000

    struct VerifiedExtents {
        var images: [Int64: [Int64: VerifiedExtent]] = [:]
        var count = 0

        subscript(image: Int64, index: Int64) -> VerifiedExtent? { images[image]?[index] }

        mutating func set(image: Int64, index: Int64, _ entry: VerifiedExtent) {
            if count >= ContentService.verifiedLimit {
                images.removeAll(keepingCapacity: true)
                count = 0
            }
            if images[image, default: [:]].updateValue(entry, forKey: index) == nil { count += 1 }
        }

        mutating func forget(image: Int64) {
            count -= images.removeValue(forKey: image)?.count ?? 0
        }
    }

    struct VerifiedExtent: Equatable {
        var stamp: FileStamp
        var checksum: [UInt8]
    }

    public init(directory: ContentDirectory, repository: any ContentRepository, catalogue: StorageCatalogue, logger: Logger) {
        self.directory = directory
        self.repository = repository
        self.catalogue = catalogue
        self.logger = logger
    }

    /// Throws ``ContentError/damaged(path:_:)`` unless extent `index` of `image` is at least
    /// `length` bytes long and its SHA-256 is `checksum`; remembers a match until the file
    /// changes.
    func verifyExtent(image: Int64, index: Int64, length: Int64, checksum: [UInt8]) throws {
        let path = directory.extentPath(image: image, index: index)
        guard let stamp = directory.stamp(image: image, index: index) else {
            throw ContentError.damaged(path: path, "missing")
        }
        let known = VerifiedExtent(stamp: stamp, checksum: checksum)
        if verified.withLock({ $0[image, index] }) == known { return }
        // The stamp was taken before reading: a change while hashing makes the next read check again.
        guard let found = try directory.inspect(image: image, index: index) else {
            throw ContentError.damaged(path: path, "missing")
        }
        guard found.size >= length else {
            throw ContentError.damaged(path: path, "\(found.size) bytes, \(length) recorded")
        }
        guard found.checksum == checksum else {
            logger.error("content file damaged", metadata: ["path": "\(path)", "image": "\(image)", "extent": "\(index)"])
            throw ContentError.damaged(path: path, "checksum differs from the one recorded when it was written")
        }
        written(image: image, index: index, StoredExtentFile(length: found.size, checksum: checksum, stamp: stamp))
    }

    /// Remembers an extent file drivesd has just written as verified: the checksum it records
    /// was computed from the bytes it wrote, so the first read need not hash them again.
    func written(image: Int64, index: Int64, _ file: StoredExtentFile) {
        guard let stamp = file.stamp else { return }
        let entry = VerifiedExtent(stamp: stamp, checksum: file.checksum)
        verified.withLock { $0.set(image: image, index: index, entry) }
    }

    /// The size an upload of `size` bytes of type `storageType` completes with.
    func minimumSize(_ storageType: String) -> Int64 {
        catalogue.limits(storageType)?.minSize ?? 1
    }

    // MARK: Uploads by range

    /// Writes `bytes` into `range` of the upload `target` (clamped or zero-filled to the range,
    /// U5) and records it; the write that covers the drive completes it. A range already
    /// written is not written again.
    public func write(_ range: Range<Int64>, of target: UploadTarget, bytes: [UInt8], now: Date = Date())
        async throws -> UploadProgress
    {
        await uploadLocks.lock(target.seq)
        do {
            let progress = try await writeLocked(range, of: target, bytes: bytes, now: now)
            await uploadLocks.unlock(target.seq)
            return progress
        } catch {
            await uploadLocks.unlock(target.seq)
            throw error
        }
    }

    func writeLocked(_ range: Range<Int64>, of target: UploadTarget, bytes: [UInt8], now: Date) async throws -> UploadProgress {
        let current = try await repository.uploadTarget(owner: target.owner, uuid: target.uuid)
        guard current.seq == target.seq, current.status == .uploading, let image = current.image else {
            throw DriveLifecycle.refusal("upload to", current.status, expected: [.uploading])
        }
        if current.ranges.covers(range) {
            return UploadProgress(ranges: current.ranges, completed: false, drive: nil)
        }
        let extentSize = current.extentSize
        var extents: [StoredExtent] = []
        var zeros: [Int64] = []
        var after = current.ranges
        after.insert(range)
        // The body fills the start of the range; a short body leaves the rest to zeros (U5).
        let filledEnd = range.lowerBound + min(Int64(bytes.count), Int64(range.count))
        var touched: [Int64: Int64] = [:]  // extent → end of the bytes written in it (from its start)
        var index = range.lowerBound / extentSize
        while index * extentSize < filledEnd {
            let extentStart = index * extentSize
            let lower = max(range.lowerBound, extentStart)
            let upper = min(filledEnd, extentStart + extentSize)
            try bytes.withUnsafeBytes { all in
                let slice = UnsafeRawBufferPointer(
                    rebasing: all[Int(lower - range.lowerBound)..<Int(upper - range.lowerBound)])
                try directory.write(image: image, index: index, offset: lower - extentStart, bytes: slice)
            }
            touched[index] = upper - extentStart
            index += 1
        }
        if filledEnd < range.upperBound {
            // Extents never written hold zeros already: only those with a file (an earlier,
            // unacknowledged write) need the zeros, as holes punched rather than bytes written.
            for stored in current.extents.sorted() {
                let extentStart = stored * extentSize
                let lower = max(filledEnd, extentStart)
                let upper = min(range.upperBound, extentStart + extentSize)
                guard lower < upper else { continue }
                try directory.zero(image: image, index: stored, offset: lower - extentStart, count: upper - lower)
                touched[stored] = max(touched[stored] ?? 0, 0)
            }
        }
        // Extents the range completes are sealed: hashed, or dropped when they hold only zeros.
        var completed = Set<Int64>()
        var first = range.lowerBound / extentSize
        while first * extentSize < range.upperBound {
            let extentStart = first * extentSize
            let extentEnd = min(extentStart + extentSize, current.size)
            if (touched[first] != nil || current.extents.contains(first)) && after.covers(extentStart..<extentEnd) {
                completed.insert(first)
            }
            // Only extents with data can need sealing: skip the stretch with none.
            if touched[first] == nil && !current.extents.contains(first) {
                let next = (touched.keys.filter { $0 > first } + current.extents.filter { $0 > first }).min()
                guard let next else { break }
                first = next
                continue
            }
            first += 1
        }
        for index in completed.sorted() {
            let extentStart = index * extentSize
            let extentEnd = min(extentStart + extentSize, current.size)
            if let sealed = try directory.seal(image: image, index: index, length: extentEnd - extentStart) {
                written(image: image, index: index, sealed)
                extents.append(StoredExtent(image: image, index: index, length: sealed.length, checksum: sealed.checksum))
            } else {
                zeros.append(index)
            }
        }
        for (index, written) in touched where !completed.contains(index) && written > 0 {
            extents.append(StoredExtent(image: image, index: index, length: written, checksum: nil))
        }
        return try await repository.recordUpload(
            UploadWrite(
                seq: current.seq, image: image, range: range, extents: extents, zeroExtents: zeros,
                minimumSize: minimumSize(current.storageType)),
            now: now)
    }

    // MARK: Single-request uploads

    /// Starts a single-request upload: the drive exists in `uploading` while its bytes stream
    /// in (see ``StreamingUpload``).
    public func beginStreamingUpload(owner: String, spec: DriveSpec, now: Date = Date()) async throws -> StreamingUpload {
        let target = try await repository.beginUpload(
            owner: owner, spec: spec, single: true, extentSize: ContentDirectory.extentSize, now: now)
        return StreamingUpload(service: self, target: target)
    }

    // MARK: Reads

    /// Opens the caller's drive `uuid` for reading: checks the state machine allows it (403 in
    /// transient statuses and for ephemeral types; 404 for unknown drives), then holds the
    /// image's files until ``ContentRead/close()``.
    public func openRead(owner: String, uuid: String) async throws -> ContentRead {
        for _ in 0..<5 {
            let target = try await repository.readTarget(owner: owner, uuid: uuid)
            let context = DriveLifecycle.Context(status: target.status, ephemeral: DriveRules.isEphemeral(target.storageType))
            _ = try DriveLifecycle.plan(.download, in: context).plan()
            guard let image = target.image else { return ContentRead(service: self, target: target, leased: nil) }
            lease(image)
            // The image could have lost its last drive between the read and the lease: then its
            // files may be going; read again.
            if try await repository.imageExists(image) {
                let read = ContentRead(service: self, target: target, leased: image)
                // A file shorter than recorded (truncated behind drivesd's back) fails the read
                // before anything is sent, rather than in the middle of a 200.
                for (index, length) in target.extents where !directory.holds(image: image, index: index, length: length) {
                    read.close()
                    throw ContentError.damaged(path: directory.extentPath(image: image, index: index), "missing or truncated")
                }
                return read
            }
            release(image)
        }
        throw CloudSigmaError(.concurrency, "The drive changed while it was opened; retry", retryAfter: 1)
    }

    func lease(_ image: Int64) {
        leases.withLock { $0[image, default: 0] += 1 }
    }

    func release(_ image: Int64) {
        leases.withLock {
            let left = ($0[image] ?? 1) - 1
            $0[image] = left > 0 ? left : nil
        }
    }

    // MARK: Removal

    /// The outbox effect `content.remove`: deletes the files of an image the database no longer
    /// has. Throws (to be retried) while a reader still holds it.
    public func removeImageFiles(_ image: Int64) async throws {
        if leases.withLock({ $0[image] != nil }) { throw ContentBusy(image: image) }
        // Ids are never reused; an image the database still has is never removed, whatever asks.
        if try await repository.imageExists(image) {
            logger.error("refusing to remove the files of an image the database references", metadata: ["image": "\(image)"])
            return
        }
        try directory.removeImage(image)
        verified.withLock { $0.forget(image: image) }
    }

    /// Start-up clean-up, before serving: deletes interrupted single uploads, removes files that
    /// nothing references (a crash between writing a file and committing its row, or between a
    /// commit and the removal), and gives library drives their images.
    ///
    /// `removeUnreferenced: false` only creates the directory: another process sharing the
    /// database (PostgreSQL) is serving, and what looks unreferenced may be its upload in flight.
    public func prepare(removeUnreferenced: Bool = true) async throws
        -> (interruptedUploads: Int, removedImages: Int, removedFiles: Int, libraryImages: Int)
    {
        try directory.prepare()
        guard removeUnreferenced else { return (0, 0, 0, 0) }
        let interrupted = try await repository.removeInterruptedSingleUploads()
        let report = try await sweep(repair: true)
        let library = try await repository.ensureLibraryImages { image, uuid, name in
            let header = Self.libraryHeader(uuid: uuid, name: name)
            let file = try header.withUnsafeBytes { try self.directory.writeExtent(image: image, index: 0, bytes: $0) }
            return StoredExtent(image: image, index: 0, length: file.length, checksum: file.checksum)
        }
        return (interrupted, report.unreferencedImages.count, report.unreferencedFiles.count, library)
    }

    /// What the data directory holds that the database does not reference; with `repair`, removed.
    public func sweep(repair: Bool) async throws -> SweepReport {
        let images = try await repository.imageIDs()
        var extents: [Int64: Set<String>] = [:]
        for extent in try await repository.storedExtents() {
            extents[extent.image, default: []].insert(String(extent.index))
        }
        var report = SweepReport()
        for (image, files) in try directory.listing() {
            guard images.contains(image) else {
                report.unreferencedImages.append(directory.imageDirectory(image))
                if repair { try directory.removeImage(image) }
                continue
            }
            let known = extents[image] ?? []
            for file in files where !known.contains(file) {
                let path = directory.imageDirectory(image) + "/" + file
                report.unreferencedFiles.append(path)
                if repair { unlinkFile(path) }
            }
        }
        return report
    }

    /// The generated content of a library drive: a header naming it; zeros after it.
    public static func libraryHeader(uuid: String, name: String) -> [UInt8] {
        Array("DRIVESD LIBRARY DRIVE\nuuid: \(uuid)\nname: \(name)\n".utf8)
    }
}

func unlinkFile(_ path: String) {
    _ = path.withCString { unlink($0) }
}

#if canImport(Glibc)
import Glibc
#endif

/// What `sweep` found.
public struct SweepReport: Sendable {
    public var unreferencedImages: [String] = []
    public var unreferencedFiles: [String] = []
    public init() {}
}

/// An image's files are still being read.
public struct ContentBusy: Error, CustomStringConvertible {
    public var image: Int64
    public var description: String { "content image \(image) is being read; its removal waits" }
}

/// One single-request upload in progress: bytes are appended in order; every full extent that
/// holds data is written (zeros are skipped); `finish` records them all and completes the drive
/// in one transaction. Not shared between tasks.
///
/// The extents are written in a pipeline: a full extent's buffer goes to the upload's writer
/// thread, which writes and hashes it, while the request fills the next buffer from the socket.
/// At most one extent is being written at a time (two buffers in all), so the extents are
/// recorded in order and the memory an upload holds is bounded. The event loop that reads the body never
/// blocks on the disk.
public final class StreamingUpload {
    let service: ContentService
    public let target: UploadTarget
    /// The buffer being filled from the body.
    var filling: ExtentBuffer
    /// The other buffer, back from its write; nil while it is being written.
    var spare: ExtentBuffer?
    var filled = 0
    var nextIndex: Int64 = 0
    var extents: [StoredExtent] = []
    /// The extent being written, and the write's outcome (nil: only zeros, nothing stored).
    var inFlight: (index: Int64, buffer: ExtentBuffer, write: Task<StoredExtentFile?, any Error>)?
    public private(set) var received: Int64 = 0
    /// Where the extents are written: a serial queue of the upload's own (a thread of Dispatch's
    /// overcommitting pool), so a write blocked on the disk or on its hash never holds one of
    /// the global queues' few threads, which password hashes and file checks wait for.
    let writer = DispatchQueue(label: "drivesd.upload-writer")

    init(service: ContentService, target: UploadTarget) {
        self.service = service
        self.target = target
        self.filling = ExtentBuffer(count: Int(target.extentSize))
    }

    public var uuid: String { target.uuid }

    /// Copies as much of `bytes` as the extent being filled has room for; answers how many it
    /// took. Call ``flushIfFull()`` after each take.
    public func take(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = min(bytes.count, filling.bytes.count - filled)
        guard n > 0 else { return 0 }
        filling.bytes.baseAddress!.advanced(by: filled).copyMemory(from: bytes.baseAddress!, byteCount: n)
        filled += n
        received += Int64(n)
        return n
    }

    /// Hands the extent being filled to its writer when it is full; waits only when the extent
    /// before it is still being written.
    public func flushIfFull() async throws {
        if filled == filling.bytes.count { try await flush() }
    }

    /// Hands the filled buffer to a writer thread and goes on with the spare one.
    func flush() async throws {
        defer {
            filled = 0
            nextIndex += 1
        }
        guard filled > 0, let image = target.image else { return }
        try await settle()
        let buffer = filling
        let count = filled
        let index = nextIndex
        let directory = service.directory
        filling = spare ?? ExtentBuffer(count: Int(target.extentSize))
        spare = nil
        let writer = self.writer
        let write = Task {
            try await Offload.run(on: writer) { () throws -> StoredExtentFile? in
                let bytes = UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<count])
                if ContentDirectory.isZero(bytes) { return nil }
                return try directory.writeExtent(image: image, index: index, bytes: bytes)
            }
        }
        inFlight = (index, buffer, write)
    }

    /// Waits for the extent being written, if any, and records it: after this, every extent
    /// appended so far (but the one being filled) is on disk.
    public func settle() async throws {
        guard let (index, buffer, write) = inFlight else { return }
        inFlight = nil
        let written = try await write.value
        spare = buffer
        if let file = written, let image = target.image {
            service.written(image: image, index: index, file)
            extents.append(StoredExtent(image: image, index: index, length: file.length, checksum: file.checksum))
        }
    }

    /// Records what arrived and completes the drive (grown to the type's minimum); answers it.
    public func finish(now: Date = Date()) async throws -> Drive {
        guard received > 0 else { throw CloudSigmaError.validation("size", "The upload is empty") }
        try await flush()
        try await settle()
        guard let image = target.image else { throw CloudSigmaError(.backend, "upload without an image") }
        let progress = try await service.repository.recordUpload(
            UploadWrite(
                seq: target.seq, image: image, range: 0..<received, extents: extents, zeroExtents: [],
                minimumSize: service.minimumSize(target.storageType), finalSize: received),
            now: now)
        guard progress.completed, let drive = progress.drive else {
            throw CloudSigmaError(.backend, "The upload did not complete")
        }
        return drive
    }

    /// The client went away (or the disk filled): the drive goes, with what was written.
    public func abandon() async {
        // The extent being written lands (or fails) before the drive and its files go.
        _ = try? await inFlight?.write.value
        inFlight = nil
        do {
            try await service.repository.abandonUpload(seq: target.seq)
        } catch {
            service.logger.error("could not remove an abandoned upload", metadata: ["drive": "\(target.uuid)", "error": "\(error)"])
        }
    }
}

/// The memory one extent is gathered in: filled by its upload, then read by the one thread that
/// writes it, never both at once (the upload takes it back only after the write has ended).
final class ExtentBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        bytes = .allocate(byteCount: count, alignment: 64)
    }

    deinit { bytes.deallocate() }
}

/// A drive opened for reading: its content as pieces to send, from files or zeros.
public final class ContentRead: Sendable {
    let service: ContentService
    public let target: ReadTarget
    let leased: Int64?
    let closed = Atomic<Bool>(false)

    init(service: ContentService, target: ReadTarget, leased: Int64?) {
        self.service = service
        self.target = target
        self.leased = leased
    }

    public var size: Int64 { target.size }

    /// One piece of a read: `count` bytes at `offset`, zeros when no extent file holds them.
    public struct Piece: Sendable {
        public var offset: Int64
        public var count: Int
        public var zeros: Bool
    }

    /// The pieces of `range`, none longer than `maximum`, each inside one extent; made as they
    /// are iterated (a terabyte drive is millions of pieces).
    public func pieces(_ range: Range<Int64>, maximum: Int = 1 << 20) -> Pieces {
        Pieces(target: target, range: range, maximum: Int64(maximum))
    }

    public struct Pieces: Sequence, Sendable {
        let target: ReadTarget
        let range: Range<Int64>
        let maximum: Int64

        public func makeIterator() -> Iterator { Iterator(pieces: self, offset: range.lowerBound) }

        public struct Iterator: IteratorProtocol {
            let pieces: Pieces
            var offset: Int64

            public mutating func next() -> Piece? {
                let range = pieces.range
                guard offset < range.upperBound else { return nil }
                let extentSize = pieces.target.extentSize
                let index = offset / extentSize
                let extentEnd = Swift.min((index + 1) * extentSize, range.upperBound)
                let storedEnd = index * extentSize + (pieces.target.extents[index] ?? 0)
                let zeros = offset >= storedEnd
                let end = Swift.min(zeros ? extentEnd : Swift.min(extentEnd, storedEnd), offset + pieces.maximum)
                let piece = Piece(offset: offset, count: Int(end - offset), zeros: zeros)
                offset = end
                return piece
            }
        }
    }

    /// Reads a non-zero piece into `buffer` (exactly `piece.count` bytes).
    public func read(_ piece: Piece, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard let image = target.image else {
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            return
        }
        let index = piece.offset / target.extentSize
        try service.directory.read(
            image: image, index: index, storedLength: target.extents[index] ?? 0,
            offset: piece.offset - index * target.extentSize, into: buffer)
    }

    /// Checks that the extent files holding `range` still hold the bytes recorded when they
    /// were sealed (SHA-256), before an answer starts: a file damaged behind drivesd's back gets
    /// an error, not wrong bytes. A file verified before and unchanged since (same inode, size
    /// and change time) is not read again.
    public func verify(_ range: Range<Int64>) throws {
        guard let image = target.image, !range.isEmpty else { return }
        let first = range.lowerBound / target.extentSize
        let last = (range.upperBound - 1) / target.extentSize
        for (index, checksum) in target.checksums where index >= first && index <= last {
            guard let length = target.extents[index], length > 0 else { continue }
            try service.verifyExtent(image: image, index: index, length: length, checksum: checksum)
        }
    }

    /// Lets the image's files go (idempotent).
    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        if let leased { service.release(leased) }
    }

    deinit { close() }
}

/// A lock per key, for async callers.
actor KeyedLock {
    private var held: Set<Int64> = []
    private var waiters: [Int64: [CheckedContinuation<Void, Never>]] = [:]

    func lock(_ key: Int64) async {
        if !held.contains(key) {
            held.insert(key)
            return
        }
        await withCheckedContinuation { waiters[key, default: []].append($0) }
    }

    func unlock(_ key: Int64) {
        if var queue = waiters[key], !queue.isEmpty {
            let next = queue.removeFirst()
            waiters[key] = queue.isEmpty ? nil : queue
            next.resume()
        } else {
            held.remove(key)
        }
    }
}

/// Reports the progress of a long command (`verify`, `backup`, `restore`).
public protocol ContentProgress: Sendable {
    func update(done: Int64, total: Int64)
    func finish()
}

/// What `drivesd verify` found.
public struct VerifyReport: Sendable {
    public var checked = 0
    public var bytes: Int64 = 0
    /// Referenced content that is missing or does not hold what was recorded.
    public var damaged: [String] = []
    /// Files and image directories that nothing references.
    public var unreferenced: [String] = []
}

extension ContentService {
    /// Checks every extent the database references: its file exists, has the recorded length,
    /// and (once written in full) the recorded SHA-256. Lists what nothing references; with
    /// `repair`, removes it.
    public func verify(repair: Bool, progress: (any ContentProgress)? = nil) async throws -> VerifyReport {
        var report = VerifyReport()
        let extents = try await repository.storedExtents()
        let total = extents.reduce(Int64(0)) { $0 + $1.length }
        for extent in extents {
            let path = directory.extentPath(image: extent.image, index: extent.index)
            report.checked += 1
            guard let found = try directory.inspect(image: extent.image, index: extent.index) else {
                report.damaged.append("\(path): missing (\(extent.length) bytes recorded)")
                continue
            }
            report.bytes += found.size
            progress?.update(done: report.bytes, total: total)
            if let checksum = extent.checksum {
                if found.size != extent.length {
                    report.damaged.append("\(path): \(found.size) bytes, \(extent.length) recorded")
                } else if found.checksum != checksum {
                    report.damaged.append("\(path): checksum differs from the one recorded when it was written")
                }
            } else if found.size < extent.length {
                report.damaged.append("\(path): \(found.size) bytes, at least \(extent.length) written")
            }
        }
        progress?.finish()
        let sweep = try await sweep(repair: repair)
        report.unreferenced = sweep.unreferencedImages + sweep.unreferencedFiles
        return report
    }
}
