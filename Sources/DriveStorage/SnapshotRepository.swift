import DriveModel
import Foundation

/// An account's snapshots (decision 16). Every method is one transaction.
public protocol SnapshotRepository: Sendable {
    /// Takes every snapshot in `specs` (all or nothing), each `creating` until its transition
    /// completes. 404 for a drive not the caller's, 403 for a drive the state machine refuses
    /// (S3) or over the limits (S4).
    func create(owner: String, specs: [SnapshotSpec], limits: SnapshotLimits, now: Date) async throws -> [Snapshot]
    func snapshot(owner: String, uuid: String) async throws -> Snapshot
    /// One page of the caller's snapshots and the number of matches.
    func list(owner: String, query: SnapshotQuery) async throws -> (total: Int, snapshots: [Snapshot])
    /// Applies PUTs, all or none.
    func update(owner: String, changes: [SnapshotChanges], now: Date) async throws -> [Snapshot]
    /// Deletes the caller's snapshots, all or none (403 for one still `creating`, S7).
    func delete(owner: String, uuids: [String]) async throws
    /// A new drive holding the snapshot's bytes (S2): `cloning_dst`, with a `drive_clone` job.
    func clone(owner: String, uuid: String, request: CloneRequest, avoid: [String], now: Date) async throws -> Drive
    /// How many snapshots the caller has.
    func count(owner: String) async throws -> Int
}
