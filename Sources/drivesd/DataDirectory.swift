import ArgumentParser
import DriveContent
import DriveStorage
import DriveStore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a data directory (`flock` on `<dir>/.lock`), held by `serve` for its
/// lifetime and by `restore` and `verify --repair`, so that none of them changes files another
/// process is using. Released by the kernel if the process dies.
final class DataDirectoryLock {
    private var fd: Int32

    /// Nil when another process holds it; throws when the lock file cannot be opened (a
    /// read-only or missing directory).
    init?(_ directory: ContentDirectory) throws {
        let path = directory.root + "/.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw ValidationError("cannot lock the data directory (\(path)): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            return nil
        }
    }

    func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}

/// Progress on standard output: a line redrawn in place on a terminal, a plain line every 10%
/// otherwise (logs, pipes).
final class Progress: ContentProgress, @unchecked Sendable {
    let label: String
    let terminal = isatty(STDOUT_FILENO) == 1
    private let lock = NSLock()
    private var lastTenth = -1
    private var shown = false

    init(label: String) { self.label = label }

    func update(done: Int64, total: Int64) {
        lock.withLock {
            let fraction = total > 0 ? Double(done) / Double(total) : 1
            if terminal {
                print("\r\(label): \(Self.bytes(done)) of \(Self.bytes(total)) (\(Int(fraction * 100))%)", terminator: "")
                fflush(nil)
                shown = true
            } else {
                let tenth = Int(fraction * 10)
                if tenth != lastTenth {
                    lastTenth = tenth
                    print("\(label): \(Self.bytes(done)) of \(Self.bytes(total)) (\(tenth * 10)%)")
                }
            }
        }
    }

    func finish() {
        lock.withLock {
            if terminal && shown { print("") }
        }
    }

    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// `drivesd backup` and `restore` with content: a backup is a directory holding the database
/// (`drivesd.sqlite`, SQLite's online backup: one consistent commit) and the extent files it
/// references (`data/`), hard-linked where the filesystem allows (sealed extents never change;
/// extents of uploads in progress are copied).
enum ContentBackup {
    struct Report {
        var extents = 0
        var bytes: Int64 = 0
        var linked = 0
    }

    static let databaseName = "drivesd.sqlite"
    static let dataName = "data"

    static func backup(database: AppDatabase, dataDirectory: ContentDirectory, to path: String, progress: Progress) async throws
        -> Report
    {
        let fm = FileManager.default
        // The running daemon may remove an image between the database copy and its files (its
        // last drive deleted): then take the copy again; the new one no longer references it.
        for attempt in 1...5 {
            try? fm.removeItem(atPath: path)
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            let databasePath = path + "/" + databaseName
            try database.backup(to: databasePath)
            let extents = try AppDatabase.storedExtents(atPath: databasePath)
            let target = ContentDirectory(root: path + "/" + dataName)
            try target.prepare()
            do {
                let report = try transfer(extents, from: dataDirectory, to: target, progress: progress)
                return report
            } catch let missing as MissingSource where attempt < 5 {
                _ = missing
                continue
            }
        }
        throw MissingSource(path: "content kept changing during the backup; retry")
    }

    static func restore(database: AppDatabase, dataDirectory: ContentDirectory, from path: String, progress: Progress) async throws
        -> Report
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw StoreError.cannotOpen(path: path, reason: "no such backup")
        }
        guard isDirectory.boolValue else {
            // A backup of a release without content: the database alone; drives read as zeros.
            try database.restore(from: path)
            try replaceData(dataDirectory, with: nil)
            return Report()
        }
        let databasePath = path + "/" + databaseName
        let source = ContentDirectory(root: path + "/" + dataName)
        let extents = try AppDatabase.storedExtents(atPath: databasePath)
        let staging = ContentDirectory(root: dataDirectory.root + ".restoring")
        try? FileManager.default.removeItem(atPath: staging.root)
        try staging.prepare()
        let report = try transfer(extents, from: source, to: staging, progress: progress)
        try database.restore(from: databasePath)
        try replaceData(dataDirectory, with: staging)
        return report
    }

    /// Moves `staging`'s images into the data directory in place of its own (the lock file stays).
    static func replaceData(_ dataDirectory: ContentDirectory, with staging: ContentDirectory?) throws {
        let fm = FileManager.default
        let old = dataDirectory.imagesRoot + ".old"
        try? fm.removeItem(atPath: old)
        if fm.fileExists(atPath: dataDirectory.imagesRoot) { try fm.moveItem(atPath: dataDirectory.imagesRoot, toPath: old) }
        if let staging {
            try fm.moveItem(atPath: staging.imagesRoot, toPath: dataDirectory.imagesRoot)
            try? fm.removeItem(atPath: staging.root)
        } else {
            try dataDirectory.prepare()
        }
        try? fm.removeItem(atPath: old)
    }

    struct MissingSource: Error, CustomStringConvertible {
        var path: String
        var description: String { "content file missing: \(path)" }
    }

    static func transfer(_ extents: [StoredExtent], from source: ContentDirectory, to target: ContentDirectory, progress: Progress)
        throws -> Report
    {
        var report = Report()
        let total = extents.reduce(Int64(0)) { $0 + $1.length }
        var made = Set<Int64>()
        for extent in extents {
            let from = source.extentPath(image: extent.image, index: extent.index)
            let to = target.extentPath(image: extent.image, index: extent.index)
            if made.insert(extent.image).inserted {
                try FileManager.default.createDirectory(atPath: target.imageDirectory(extent.image), withIntermediateDirectories: true)
            }
            guard FileManager.default.fileExists(atPath: from) else { throw MissingSource(path: from) }
            // Sealed extents never change: a hard link is a copy. Extents of an upload in
            // progress are written in place: copy them.
            if extent.checksum != nil, link(from, to) == 0 {
                report.linked += 1
            } else {
                try? FileManager.default.removeItem(atPath: to)
                do {
                    try FileManager.default.copyItem(atPath: from, toPath: to)
                } catch CocoaError.fileReadNoSuchFile {
                    throw MissingSource(path: from)
                }
            }
            report.extents += 1
            report.bytes += extent.length
            progress.update(done: report.bytes, total: total)
        }
        progress.finish()
        return report
    }
}
