import DriveLifecycle
import DriveModel
import Foundation
import GRDB

extension DriveRepository {
    /// Clones the caller's drive `sourceUUID`: the new drive starts `cloning_dst`, the source shows
    /// `cloning_src` while copying, and a `drive_clone` job referenced from both tracks progress.
    /// Returns the new drive.
    ///
    /// The source may be a library drive: the clone then gets the library's metadata in `meta` and
    /// its licenses, frozen (reference §7.2).
    public func clone(
        owner: String, sourceUUID: String, request: CloneRequest, avoid: [String] = [], now: Date = Date()
    ) async throws -> Drive {
        let durations = self.durations, catalogue = self.catalogue, hosts = self.hosts, control = self.control
        return try await database.groupWrite(owner: owner) { db in
            guard let source = try Self.fetchDrives(db, where: "d.uuid = ? AND d.owner = ?", [sourceUUID, owner]).first,
                let sourceSeq = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM drives WHERE uuid = ?"), arguments: [sourceUUID])
            else {
                guard let library = try LibraryRepository.fetch(db, owner: owner, where: "uuid = ?", [sourceUUID]).first else {
                    throw CloudSigmaError.notExist(sourceUUID)
                }
                return try Self.cloneLibrary(
                    db, owner: owner, library: library, request: request, avoid: avoid, now: now, durations: durations,
                    catalogue: catalogue, hosts: hosts, control: control)
            }
            if source.storageType == "local_nvme" {
                throw CloudSigmaError.permission("Ephemeral (local_nvme) drives cannot be cloned")
            }
            let context = try Self.lifecycleContext(db, seq: sourceSeq, status: source.status)
            guard case .proceed = DriveLifecycle.decide(.clone, in: context) else {
                if case .reject(let error) = DriveLifecycle.decide(.clone, in: context) { throw error }
                throw CloudSigmaError.permission("Cannot clone this drive now")
            }
            let type = request.storageType ?? source.storageType
            guard let limits = catalogue.limits(type) else {
                throw CloudSigmaError.validation("storage_type", "Storage type \(type) is not offered here")
            }
            let size = try Self.cloneSize(request.size, sourceSize: source.size, limits: limits)
            var clone = Drive(
                uuid: Identifiers.timeOrdered(), owner: owner, name: request.name ?? source.name, size: size,
                media: request.media ?? source.media, storageType: type, status: .cloningDestination,
                allowMultimount: source.allowMultimount, affinities: request.affinities ?? source.affinities,
                meta: source.meta, iops: type == source.storageType ? source.iops : nil, licenses: source.licenses)
            let licensesFrozen =
                try Bool.fetchOne(db.cachedStatement(sql: "SELECT licenses_frozen FROM drives WHERE seq = ?"), arguments: [sourceSeq]) ?? false
            let host = try Relations.placeHost(db, owner: owner, avoid: avoid, hosts: hosts)
            let (_, job) = try Self.insertClone(
                db, clone, sourceURI: source.resourceURI, sourceSeq: sourceSeq,
                licenses: source.licenses.map { LicenseRequest(licenseID: $0.license.id, amount: $0.amount) },
                licensesFrozen: licensesFrozen, host: host, now: now, durations: durations, control: control)
            let stamp = Timestamp.string(now)
            if source.status != .cloningSource {
                try db.run(
                    sql: "UPDATE drives SET status = ?, updated_at = ? WHERE seq = ? AND status = ?",
                    arguments: [DriveStatus.cloningSource.rawValue, stamp, sourceSeq, source.status.rawValue])
                guard db.changesCount == 1 else { throw StoreError.conflict("drive \(source.uuid)") }
            }
            clone.jobs = [job]
            return clone
        }
    }

    static func cloneSize(_ requested: Int64?, sourceSize: Int64, limits: StorageTypeLimits) throws -> Int64 {
        let size = requested ?? max(sourceSize, limits.minSize)
        if size < sourceSize {
            throw CloudSigmaError.validation(
                "size", "Size of the cloned drive can only be bigger or the same: the source has \(sourceSize) bytes")
        }
        if size < limits.minSize || size > limits.maxSize {
            throw CloudSigmaError.validation(
                "size", "Drive size \(size) is outside \(limits.minSize)...\(limits.maxSize) bytes for storage type \(limits.name)")
        }
        return size
    }

    /// Inserts a clone in `cloning_dst`, its licenses, its `drive_clone` job (referenced from the
    /// clone and, when it is an owned drive, the source) and its transition. Returns (seq, job uuid).
    static func insertClone(
        _ db: Database, _ clone: Drive, sourceURI: String, sourceSeq: Int64?, licenses: [LicenseRequest],
        licensesFrozen: Bool, host: Int, now: Date, durations: OperationDurations, control: TransitionControl?
    ) throws -> (Int64, String) {
        let stamp = Timestamp.string(now)
        let start = now.timeIntervalSince1970
        let due = Self.due(.clone, size: clone.size, now: now, durations: durations, control: control)
        try db.run(
            sql: """
                INSERT INTO drives (uuid, owner, name, size, media, storage_type, status, allow_multimount,
                                    affinities, meta, iops, created_at, updated_at, host, licenses_frozen)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                clone.uuid, clone.owner, clone.name, clone.size, clone.media.rawValue, clone.storageType,
                clone.status.rawValue, clone.allowMultimount, Codec.encode(clone.affinities), Codec.encode(clone.meta),
                clone.iops, stamp, stamp, host, licensesFrozen,
            ])
        let cloneSeq = db.lastInsertedRowID
        try insertLicenses(db, seq: cloneSeq, licenses)
        let job = UUID().uuidString.lowercased()
        try db.run(
            sql: """
                INSERT INTO jobs (uuid, owner, operation, state, resources, started_at, due_at, created,
                                  last_modified, last_modified_at)
                VALUES (?, ?, 'drive_clone', 'started', ?, ?, ?, ?, ?, ?)
                """,
            arguments: [job, clone.owner, Codec.encode([sourceURI, clone.resourceURI]), start, due, stamp, stamp, start])
        let jobSeq = db.lastInsertedRowID
        try db.run(sql: "INSERT INTO drive_jobs (drive_seq, job_seq) VALUES (?, ?)", arguments: [cloneSeq, jobSeq])
        if let sourceSeq {
            try db.run(sql: "INSERT INTO drive_jobs (drive_seq, job_seq) VALUES (?, ?)", arguments: [sourceSeq, jobSeq])
        }
        try db.run(
            sql: """
                INSERT INTO transitions (drive_seq, operation, from_status, due_at, payload, source_seq, job_seq)
                VALUES (?, 'clone', ?, ?, '{}', ?, ?)
                """,
            arguments: [cloneSeq, DriveStatus.cloningDestination.rawValue, due, sourceSeq, jobSeq])
        return (cloneSeq, job)
    }

    /// A library drive cloned into the caller's account.
    static func cloneLibrary(
        _ db: Database, owner: String, library: LibraryDrive, request: CloneRequest, avoid: [String], now: Date,
        durations: OperationDurations, catalogue: StorageCatalogue, hosts: Int, control: TransitionControl?
    ) throws -> Drive {
        let type = request.storageType ?? catalogue.defaultType
        guard let limits = catalogue.limits(type) else {
            throw CloudSigmaError.validation("storage_type", "Storage type \(type) is not offered here")
        }
        let size = try cloneSize(request.size, sourceSize: library.size, limits: limits)
        var clone = Drive(
            uuid: Identifiers.timeOrdered(), owner: owner, name: request.name ?? library.name, size: size,
            media: request.media ?? library.media, storageType: type, status: .cloningDestination,
            affinities: request.affinities ?? [], meta: library.cloneMeta, licenses: library.licenses)
        let host = try Relations.placeHost(db, owner: owner, avoid: avoid, hosts: hosts)
        let (_, job) = try insertClone(
            db, clone, sourceURI: APIPath.uri("libdrives", library.uuid), sourceSeq: nil,
            licenses: library.licenses.map { LicenseRequest(licenseID: $0.license.id, amount: $0.amount) },
            licensesFrozen: true, host: host, now: now, durations: durations, control: control)
        clone.jobs = [job]
        return clone
    }
}

extension DriveRepository {
    /// `GET /drives/availability_groups/`: the caller's drives grouped by storage host, for hosts
    /// that hold two or more of them (decision 11).
    public func availabilityGroups(owner: String) async throws -> [[String]] {
        try await database.read { db in
            var groups: [Int: [String]] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT host, uuid FROM drives WHERE owner = ? ORDER BY host, seq"), arguments: [owner]) {
                groups[row["host"], default: []].append(row["uuid"])
            }
            return groups.keys.sorted().compactMap { groups[$0]!.count >= 2 ? groups[$0] : nil }
        }
    }

    /// `GET /drives/availability_groups/{uuid}/`: the caller's drives on the same host as `uuid`,
    /// itself included.
    public func availabilityGroup(owner: String, uuid: String) async throws -> [String] {
        try await database.read { db in
            guard let host = try Int.fetchOne(db.cachedStatement(sql: "SELECT host FROM drives WHERE uuid = ? AND owner = ?"), arguments: [uuid, owner])
            else { throw CloudSigmaError.notExist(uuid) }
            return try String.fetchAll(db.cachedStatement(sql: "SELECT uuid FROM drives WHERE owner = ? AND host = ? ORDER BY seq"), arguments: [owner, host])
        }
    }
}
