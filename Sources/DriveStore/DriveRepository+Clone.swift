import DriveLifecycle
import DriveModel
import Foundation
import GRDB

extension DriveRepository {
    /// Clones the caller's drive `sourceUUID`: the new drive starts `cloning_dst`, the source shows
    /// `cloning_src` while copying, and a `drive_clone` job referenced from both tracks progress.
    /// Returns the new drive.
    public func clone(owner: String, sourceUUID: String, request: CloneRequest, now: Date = Date()) async throws -> Drive {
        let durations = self.durations, catalogue = self.catalogue
        return try await database.write { db in
            guard let source = try Self.fetchDrives(db, where: "d.uuid = ? AND d.owner = ?", [sourceUUID, owner]).first,
                let sourceSeq = try Int64.fetchOne(db, sql: "SELECT seq FROM drives WHERE uuid = ?", arguments: [sourceUUID])
            else {
                throw CloudSigmaError.notExist(sourceUUID)
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
            let size = request.size ?? source.size
            if size < source.size {
                throw CloudSigmaError.validation(
                    "size", "Size of the cloned drive can only be bigger or the same: the source has \(source.size) bytes")
            }
            if size < limits.minSize || size > limits.maxSize {
                throw CloudSigmaError.validation(
                    "size", "Drive size \(size) is outside \(limits.minSize)...\(limits.maxSize) bytes for storage type \(type)")
            }

            let stamp = Timestamp.string(now)
            let start = now.timeIntervalSince1970
            let due = start + durations.seconds(.clone, size: size)
            var clone = Drive(
                uuid: UUID().uuidString.lowercased(), owner: owner, name: request.name ?? source.name, size: size,
                media: request.media ?? source.media, storageType: type, status: .cloningDestination,
                allowMultimount: source.allowMultimount, affinities: request.affinities ?? source.affinities,
                meta: source.meta, iops: type == source.storageType ? source.iops : nil, licenses: source.licenses)
            try db.execute(
                sql: """
                    INSERT INTO drives (uuid, owner, name, size, media, storage_type, status, allow_multimount,
                                        affinities, meta, iops, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    clone.uuid, owner, clone.name, clone.size, clone.media.rawValue, clone.storageType,
                    clone.status.rawValue, clone.allowMultimount, Codec.encode(clone.affinities), Codec.encode(clone.meta),
                    clone.iops, stamp, stamp,
                ])
            let cloneSeq = db.lastInsertedRowID
            try db.execute(
                sql: """
                    INSERT INTO drive_licenses (drive_seq, position, license_id, amount)
                    SELECT ?, position, license_id, amount FROM drive_licenses WHERE drive_seq = ?
                    """,
                arguments: [cloneSeq, sourceSeq])

            let job = UUID().uuidString.lowercased()
            try db.execute(
                sql: """
                    INSERT INTO jobs (uuid, owner, operation, state, resources, started_at, due_at, created,
                                      last_modified, last_modified_at)
                    VALUES (?, ?, 'drive_clone', 'started', ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    job, owner, Codec.encode([source.resourceURI, clone.resourceURI]), start, due, stamp, stamp, start,
                ])
            let jobSeq = db.lastInsertedRowID
            try db.execute(
                sql: "INSERT INTO drive_jobs (drive_seq, job_seq) VALUES (?, ?), (?, ?)",
                arguments: [sourceSeq, jobSeq, cloneSeq, jobSeq])
            try db.execute(
                sql: """
                    INSERT INTO transitions (drive_seq, operation, from_status, due_at, payload, source_seq, job_seq)
                    VALUES (?, 'clone', ?, ?, '{}', ?, ?)
                    """,
                arguments: [cloneSeq, DriveStatus.cloningDestination.rawValue, due, sourceSeq, jobSeq])
            if source.status != .cloningSource {
                try db.execute(
                    sql: "UPDATE drives SET status = ?, updated_at = ? WHERE seq = ? AND status = ?",
                    arguments: [DriveStatus.cloningSource.rawValue, stamp, sourceSeq, source.status.rawValue])
                guard db.changesCount == 1 else { throw StoreError.conflict("drive \(source.uuid)") }
            }
            clone.jobs = [job]
            return clone
        }
    }
}
