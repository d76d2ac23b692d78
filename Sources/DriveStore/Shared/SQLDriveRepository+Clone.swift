import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

extension SQLDriveRepository {
    /// Clones the caller's drive `sourceUUID`, or a library drive: the plan says what the source
    /// becomes (`cloning_src`), what the new drive is (`cloning_dst` with its transition) and the
    /// job that tracks the copy, referenced from both.
    ///
    /// A library clone gets the library's metadata in `meta` and its licenses, frozen
    /// (reference §7.2).
    public func clone(
        owner: String, sourceUUID: String, request: CloneRequest, avoid: [String], now: Date
    ) async throws -> Drive {
        try await database.interpret(env, now: now, groupedFor: owner) { interpreter in
            let db = interpreter.db
            guard let source = try DriveRows.owned(db, owner: owner, uuid: sourceUUID) else {
                guard let library = try SQLLibraryRepository.fetch(db, owner: owner, uuid: sourceUUID) else {
                    throw CloudSigmaError.notExist(sourceUUID)
                }
                return try Self.cloneLibrary(interpreter, owner: owner, library: library, request: request, avoid: avoid)
            }
            let drive = source.drive
            let context = try interpreter.driveContext(seq: source.seq, status: drive.status, storageType: drive.storageType)
            guard let plan = try DriveLifecycle.plan(.clone, in: context).plan(), let spawn = plan.spawn else {
                throw CloudSigmaError.permission("Cannot clone drive \(sourceUUID) now")
            }
            let type = request.storageType ?? drive.storageType
            let size = try DriveRules.cloneSize(
                request.size, sourceSize: drive.size, limits: try DriveRules.limits(type, in: interpreter.env.catalogue))
            let clone = Drive(
                uuid: Identifiers.make(now: now), owner: owner, name: try request.name ?? Self.cloneName(interpreter, owner: owner, source: drive.name), size: size,
                media: request.media ?? drive.media, storageType: type, status: spawn.status,
                allowMultimount: drive.allowMultimount, affinities: request.affinities ?? drive.affinities,
                meta: drive.meta, iops: type == drive.storageType ? drive.iops : nil, licenses: drive.licenses)
            // Copy-on-write: the clone points at the source's (immutable) image.
            let made = try Self.insertSpawned(
                interpreter, spawn, clone, owner: owner, source: (drive.resourceURI, source.seq),
                licensesFrozen: source.licensesFrozen, avoid: avoid, contentImage: source.contentImage)
            try interpreter.carryOut(plan, on: source.row)
            return made
        }
    }

    /// The name of a clone of `source` made without a name: the owner's profile decides
    /// (`clone_naming`, reference §3.9.1).
    static func cloneName(_ interpreter: PlanInterpreter, owner: String, source: String) throws -> String {
        try (String.fetchOne(
            interpreter.db, sql: "SELECT clone_naming FROM profiles WHERE user_uuid = ?", arguments: [owner]
        ).flatMap(CloneNaming.init(rawValue:)) ?? .none).name(for: source, now: interpreter.now)
    }

    /// A library drive cloned into the caller's account.
    static func cloneLibrary(
        _ interpreter: PlanInterpreter, owner: String, library: LibraryDrive, request: CloneRequest, avoid: [String]
    ) throws -> Drive {
        guard let spawn = DriveLifecycle.libraryClone.spawn else { throw StoreError.conflict("library clone plan") }
        let type = request.storageType ?? interpreter.env.catalogue.defaultType
        let size = try DriveRules.cloneSize(
            request.size, sourceSize: library.size, limits: try DriveRules.limits(type, in: interpreter.env.catalogue))
        let clone = Drive(
            uuid: Identifiers.make(now: interpreter.now), owner: owner, name: try request.name ?? cloneName(interpreter, owner: owner, source: library.name),
            size: size,
            media: request.media ?? library.media, storageType: type, status: spawn.status,
            affinities: request.affinities ?? [], meta: library.cloneMeta, licenses: library.licenses)
        let image = try Int64.fetchOne(
            interpreter.db.cachedStatement(sql: "SELECT content_image FROM library_drives WHERE uuid = ?"),
            arguments: [library.uuid])
        return try insertSpawned(
            interpreter, spawn, clone, owner: owner, source: (APIPath.uri("libdrives", library.uuid), nil), licensesFrozen: true,
            avoid: avoid, contentImage: image)
    }

    /// Creates the drive a plan spawns, with its licenses, its job (referenced from the new drive
    /// and an owned source) and its transition. Returns the new drive as answered.
    static func insertSpawned(
        _ interpreter: PlanInterpreter, _ spawn: DrivePlan.Spawn, _ drive: Drive, owner: String, source: (uri: String, seq: Int64?),
        licensesFrozen: Bool, avoid: [String], contentImage: Int64?
    ) throws -> Drive {
        let db = interpreter.db
        let host = try Relations.placeHost(db, owner: owner, avoid: avoid, hosts: interpreter.env.hosts)
        let seq = try insertRow(
            db, drive, host: host, licensesFrozen: licensesFrozen, stamp: interpreter.stamp, contentImage: contentImage)
        try SQLLicenseRepository.insertLicenses(
            db, seq: seq, drive.licenses.map { LicenseRequest(licenseID: $0.license.id, amount: $0.amount) })
        var made = drive
        var jobSeq: Int64?
        if let kind = spawn.job {
            let due = interpreter.env.due(spawn.schedule, size: drive.size, now: interpreter.now)
            let job = try interpreter.startJob(kind, owner: owner, resources: [source.uri, drive.resourceURI], due: due)
            for referencing in [seq, source.seq].compactMap({ $0 }) {
                try db.run(sql: "INSERT INTO drive_jobs (drive_seq, job_seq) VALUES (?, ?)", arguments: [referencing, job.seq])
            }
            jobSeq = job.seq
            made.jobs = [job.uuid]
        }
        try interpreter.schedule(
            seq: seq, operation: spawn.schedule, from: spawn.status.rawValue, size: drive.size, source: source.seq,
            job: jobSeq)
        return made
    }
}
