import Crypto
import DriveModel
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The data directory: the bytes of content images, one file per stored extent, at
/// `images/<id & 255 as two hex digits>/<id>/<extent index>`. A file holds the extent's first
/// bytes; what it lacks up to the extent's size reads as zeros. Files of a sealed image never
/// change. Which files exist, and with which checksum, is recorded in the database; this type
/// only moves bytes.
public struct ContentDirectory: Sendable {
    public let root: String
    /// Whether writes are flushed to the disk (`fsync`) before they are acknowledged: with
    /// `database.synchronous: full`, so content survives a power loss as the database does.
    public let syncWrites: Bool

    /// The extent size of new images.
    public static let extentSize: Int64 = 4 * 1024 * 1024

    public init(root: String, syncWrites: Bool = false) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        self.syncWrites = syncWrites
    }

    /// The default data directory of a database file: `drivesd-data` beside it.
    public static func defaultRoot(forDatabase path: String) -> String {
        URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("drivesd-data").path
    }

    public var imagesRoot: String { root + "/images" }

    /// Creates the directory (and `images/`) when missing.
    public func prepare() throws {
        // mkdir -p, keeping the errno of the step that fails.
        var path = imagesRoot.hasPrefix("/") ? "" : "."
        for component in imagesRoot.split(separator: "/") {
            path += "/" + component
            if mkdir(path, 0o750) != 0 && errno != EEXIST {
                throw ContentError.io(path: path, errno: errno, "create the data directory")
            }
        }
    }

    public func imageDirectory(_ image: Int64) -> String {
        imagesRoot + "/" + Self.fanout(image) + "/" + String(image)
    }

    public func extentPath(image: Int64, index: Int64) -> String {
        imageDirectory(image) + "/" + String(index)
    }

    static func fanout(_ image: Int64) -> String {
        let low = Int(image & 0xff)
        let digits = Array("0123456789abcdef")
        return String([digits[low >> 4], digits[low & 0xf]])
    }

    // MARK: Writing

    /// Writes a whole extent file (replacing any) and answers its stored form. `bytes` must not
    /// be all zeros (zeros are never stored). The file is written under a temporary name and
    /// renamed, so a crash never leaves a torn extent under its real name.
    public func writeExtent(image: Int64, index: Int64, bytes: UnsafeRawBufferPointer) throws -> StoredExtentFile {
        let directory = imageDirectory(image)
        try makeDirectory(directory)
        let path = extentPath(image: image, index: index)
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw ContentError.io(path: temporary, errno: errno, "create") }
        defer { close(fd) }
        let checksum = try Self.hashing(bytes) { try writeAll(fd, bytes, at: 0, path: temporary) }
        if syncWrites, fsync(fd) != 0 { throw ContentError.io(path: temporary, errno: errno, "sync") }
        guard rename(temporary, path) == 0 else { throw ContentError.io(path: path, errno: errno, "rename") }
        // Stamped after the rename (which changes the file's change time).
        return StoredExtentFile(length: Int64(bytes.count), checksum: checksum, stamp: stamp(image: image, index: index))
    }

    /// The SHA-256 of `bytes`, computed while `write` runs: on a second thread when there is
    /// enough to hash (a whole extent's copy into the page cache and its hash take about as long
    /// as each other), on this one for small writes. Returns only when both are done.
    static func hashing(_ bytes: UnsafeRawBufferPointer, while write: () throws -> Void) throws -> [UInt8] {
        guard bytes.count >= 1 << 20 else {
            try write()
            return Array(SHA256.hash(data: bytes))
        }
        let job = HashJob(bytes)
        let done = DispatchGroup()
        hashQueue.async(group: done) { job.run() }
        var failure: (any Error)?
        do { try write() } catch { failure = error }
        done.wait()  // the bytes stay the caller's until the hash has read them
        if let failure { throw failure }
        return job.checksum
    }

    /// Hashes beside writes. A serial queue targets Dispatch's overcommitting pool, so a hash
    /// always gets a thread, even while every thread of the global queues is busy or waits. (A
    /// concurrent queue would not: it targets the global pool, about one thread a core, and a
    /// writer waiting there for its hash could wait for itself.) Concurrent uploads take their
    /// hashes in turn, 2–3 ms a 4 MiB extent.
    static let hashQueue = DispatchQueue(label: "drivesd.extent-hash")

    /// One hash for ``hashing(_:while:)``: the bytes are read and the result written only
    /// between the job's start and the group's wait, which orders both.
    final class HashJob: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
        var checksum: [UInt8] = []

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        func run() { checksum = Array(SHA256.hash(data: bytes)) }
    }

    /// Writes `bytes` at `offset` inside an extent file of an image still being uploaded
    /// (created when missing).
    public func write(image: Int64, index: Int64, offset: Int64, bytes: UnsafeRawBufferPointer) throws {
        try makeDirectory(imageDirectory(image))
        let path = extentPath(image: image, index: index)
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw ContentError.io(path: path, errno: errno, "open") }
        defer { close(fd) }
        try writeAll(fd, bytes, at: offset, path: path)
        if syncWrites, fsync(fd) != 0 { throw ContentError.io(path: path, errno: errno, "sync") }
    }

    /// Makes `count` bytes at `offset` of an extent file read as zeros (holes punched, or zeros
    /// written where the filesystem cannot punch). Nothing to do without a file, or past its end.
    public func zero(image: Int64, index: Int64, offset: Int64, count: Int64) throws {
        let path = extentPath(image: image, index: index)
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return }
            throw ContentError.io(path: path, errno: errno, "open")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ContentError.io(path: path, errno: errno, "stat") }
        let end = min(offset + count, Int64(info.st_size))
        guard offset < end else { return }
        if let punch = Self.fallocate, punch(fd, Self.punchHole | Self.keepSize, off_t(offset), off_t(end - offset)) == 0 { return }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var at = offset
        while at < end {
            let n = Int(min(Int64(zeros.count), end - at))
            try zeros.withUnsafeBytes { try writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n]), at: at, path: path) }
            at += Int64(n)
        }
    }

    /// Reads a whole extent file, hashes it, and answers its stored form, or nil when it holds
    /// only zeros (then the file is removed: zeros are not stored).
    public func seal(image: Int64, index: Int64, length: Int64) throws -> StoredExtentFile? {
        let path = extentPath(image: image, index: index)
        var buffer = [UInt8](repeating: 0, count: Int(length))
        let fd = open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw ContentError.io(path: path, errno: errno, "open")
        }
        defer { close(fd) }
        // The ranges written cover the extent; a file shorter than `length` ends in zeros that
        // were written as such past its end by no one: they read as zeros (the buffer starts
        // zeroed), and the file is extended to `length` so that the checksum covers it whole.
        _ = try buffer.withUnsafeMutableBytes { try readAll(fd, $0, at: 0, path: path) }
        if Self.isZero(buffer) {
            unlink(path)
            return nil
        }
        guard ftruncate(fd, off_t(length)) == 0 else { throw ContentError.io(path: path, errno: errno, "truncate") }
        return StoredExtentFile(length: length, checksum: Array(SHA256.hash(data: buffer)), stamp: Self.stamp(fd))
    }

    // MARK: Reading

    /// Reads `count` bytes at `offset` of an extent file of `length` stored bytes into `into`
    /// (bytes past `length` are zeros). A file shorter than recorded is damage.
    public func read(
        image: Int64, index: Int64, storedLength: Int64, offset: Int64, into buffer: UnsafeMutableRawBufferPointer
    ) throws {
        let path = extentPath(image: image, index: index)
        let wanted = Int64(buffer.count)
        let fromFile = max(0, min(wanted, storedLength - offset))
        if fromFile > 0 {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                if errno == ENOENT { throw ContentError.damaged(path: path, "missing") }
                throw ContentError.io(path: path, errno: errno, "open")
            }
            defer { close(fd) }
            let got = try readAll(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(fromFile)]), at: offset, path: path)
            if got < Int(fromFile) { throw ContentError.damaged(path: path, "shorter than recorded") }
        }
        if fromFile < wanted {
            buffer.baseAddress!.advanced(by: Int(fromFile)).initializeMemory(as: UInt8.self, repeating: 0, count: Int(wanted - fromFile))
        }
    }

    /// Whether an extent file exists with at least `length` bytes (one `stat`).
    public func holds(image: Int64, index: Int64, length: Int64) -> Bool {
        var info = stat()
        return stat(extentPath(image: image, index: index), &info) == 0 && Int64(info.st_size) >= length
    }

    /// What identifies an extent file's bytes without reading them (nil: missing): any write,
    /// truncation or replacement changes its change time, which no user can set back.
    public func stamp(image: Int64, index: Int64) -> FileStamp? {
        var info = stat()
        guard stat(extentPath(image: image, index: index), &info) == 0 else { return nil }
        return FileStamp(info)
    }

    static func stamp(_ fd: Int32) -> FileStamp? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return FileStamp(info)
    }

    /// The size and SHA-256 of an extent file, for `verify`; nil when it is missing.
    public func inspect(image: Int64, index: Int64) throws -> (size: Int64, checksum: [UInt8])? {
        let path = extentPath(image: image, index: index)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw ContentError.io(path: path, errno: errno, "open")
        }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while true {
            let got = try buffer.withUnsafeMutableBytes { try readAll(fd, $0, at: offset, path: path) }
            if got == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            offset += Int64(got)
            if got < buffer.count { break }
        }
        return (offset, Array(hasher.finalize()))
    }

    // MARK: Removing and listing

    /// Removes an image's files (idempotent).
    public func removeImage(_ image: Int64) throws {
        let directory = imageDirectory(image)
        do {
            try FileManager.default.removeItem(atPath: directory)
        } catch CocoaError.fileNoSuchFile {
        } catch let error as NSError where error.code == NSFileNoSuchFileError {
        }
    }

    /// Removes one extent file (idempotent).
    public func removeExtent(image: Int64, index: Int64) {
        unlink(extentPath(image: image, index: index))
    }

    /// Every image directory and the extent files in it (temporary files included, as nil).
    public func listing() throws -> [Int64: [String]] {
        var out: [Int64: [String]] = [:]
        let fm = FileManager.default
        guard let buckets = try? fm.contentsOfDirectory(atPath: imagesRoot) else { return [:] }
        for bucket in buckets {
            let bucketPath = imagesRoot + "/" + bucket
            guard let images = try? fm.contentsOfDirectory(atPath: bucketPath) else { continue }
            for name in images {
                guard let image = Int64(name) else { continue }
                out[image] = (try? fm.contentsOfDirectory(atPath: bucketPath + "/" + name)) ?? []
            }
        }
        return out
    }

    // MARK: Helpers

    /// `fallocate(2)`, which Glibc's module does not export (it needs _GNU_SOURCE).
    static let fallocate: (@convention(c) (Int32, Int32, off_t, off_t) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "fallocate") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32, off_t, off_t) -> Int32).self)
    }()
    static let keepSize: Int32 = 0x01  // FALLOC_FL_KEEP_SIZE
    static let punchHole: Int32 = 0x02  // FALLOC_FL_PUNCH_HOLE

    func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o750) == 0 || errno == EEXIST { return }
        if errno == ENOENT {
            let parent = (path as NSString).deletingLastPathComponent
            if mkdir(parent, 0o750) != 0 && errno != EEXIST {
                if errno == ENOENT {
                    try prepare()
                    if mkdir(parent, 0o750) != 0 && errno != EEXIST { throw ContentError.io(path: parent, errno: errno, "create") }
                } else {
                    throw ContentError.io(path: parent, errno: errno, "create")
                }
            }
            if mkdir(path, 0o750) == 0 || errno == EEXIST { return }
        }
        throw ContentError.io(path: path, errno: errno, "create")
    }

    func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress!.advanced(by: done), bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ContentError.io(path: path, errno: errno, "write")
            }
            done += n
        }
    }

    func readAll(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress!.advanced(by: done), buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ContentError.io(path: path, errno: errno, "read")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Whether every byte is zero (8 bytes at a time).
    public static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var i = 0
        let words = count / 8
        if words > 0 {
            var acc: UInt64 = 0
            for w in 0..<words {
                acc |= bytes.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self)
                if w & 1023 == 1023 && acc != 0 { return false }
            }
            if acc != 0 { return false }
            i = words * 8
        }
        while i < count {
            if bytes[i] != 0 { return false }
            i += 1
        }
        return true
    }

    public static func isZero(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isZero($0) }
    }
}

/// An extent file as written: its length and SHA-256.
public struct StoredExtentFile: Sendable, Equatable {
    public var length: Int64
    public var checksum: [UInt8]
    /// The file's stamp once written: the bytes hashed are the file's bytes until it changes.
    public var stamp: FileStamp?
}

/// A failure of the data directory.
/// See ``ContentDirectory/stamp(image:index:)``.
public struct FileStamp: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    /// `st_ctim` in nanoseconds.
    public var changed: Int64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
    }
}

public enum ContentError: Error, CustomStringConvertible, Sendable {
    case io(path: String, errno: Int32, String)
    /// A file the database references is missing or does not hold what was recorded.
    case damaged(path: String, String)

    public var description: String {
        switch self {
        case .io(let path, let code, let what):
            "cannot \(what) \(path): \(String(cString: strerror(code)))"
        case .damaged(let path, let what):
            "content file \(path) is damaged (\(what))"
        }
    }

    /// The CloudSigma error a request answers with.
    public var apiError: CloudSigmaError {
        switch self {
        case .io(_, let code, _) where code == ENOSPC || code == EDQUOT:
            CloudSigmaError(
                .insufficientStorage,
                "No space left in the data directory: the bytes written so far are kept; retry once space is freed",
                retryAfter: 5)
        case .io(_, let code, _) where code == EROFS || code == EACCES || code == EPERM:
            CloudSigmaError(.backend, "The data directory cannot be written (\(String(cString: strerror(code))))")
        case .io(_, let code, _):
            CloudSigmaError(.backend, "Data directory failure: \(String(cString: strerror(code)))")
        case .damaged:
            CloudSigmaError(.backend, "The drive's content is damaged (run drivesd verify): refusing to serve wrong bytes")
        }
    }
}
