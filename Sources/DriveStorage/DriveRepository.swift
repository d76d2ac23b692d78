import DriveModel
import Foundation

/// An account's drives (reference §3). Every method is one transaction: a request applies whole
/// or not at all, and returns only once its changes are durable.
public protocol DriveRepository: Sendable {
    /// Creates every drive in `specs` (all or nothing), each `creating` until its transition
    /// completes. `avoid`: drive or server uuids whose storage hosts to avoid (best effort).
    func create(owner: String, specs: [DriveSpec], avoid: [String], now: Date) async throws -> [Drive]
    /// The caller's drive `uuid`, or a library drive in drive shape (`owner: null`), or `404`.
    func drive(owner: String, uuid: String) async throws -> Drive
    /// One page of the caller's drives and the number of matches.
    func list(owner: String, query: DriveQuery) async throws -> (total: Int, drives: [Drive])
    /// Applies one update (PUT or the resize action).
    func update(owner: String, changes: DriveChanges, mode: UpdateMode, now: Date) async throws -> Drive
    /// Applies several PUT updates, all or none (decision 7).
    func update(owner: String, bulk: [DriveChanges], now: Date) async throws -> [Drive]
    /// Deletes the caller's drives `uuids`, all or none.
    func delete(owner: String, uuids: [String]) async throws
    /// Clones an owned or library drive; returns the new drive (`cloning_dst`).
    func clone(owner: String, sourceUUID: String, request: CloneRequest, avoid: [String], now: Date) async throws -> Drive
    /// The caller's drives grouped by storage host, for hosts holding two or more (decision 11).
    func availabilityGroups(owner: String) async throws -> [[String]]
    /// The caller's drives on the same storage host as `uuid`, itself included.
    func availabilityGroup(owner: String, uuid: String) async throws -> [String]
}

extension DriveRepository {
    public func create(owner: String, specs: [DriveSpec], avoid: [String] = []) async throws -> [Drive] {
        try await create(owner: owner, specs: specs, avoid: avoid, now: Date())
    }

    public func update(owner: String, changes: DriveChanges, mode: UpdateMode) async throws -> Drive {
        try await update(owner: owner, changes: changes, mode: mode, now: Date())
    }

    public func update(owner: String, bulk: [DriveChanges]) async throws -> [Drive] {
        try await update(owner: owner, bulk: bulk, now: Date())
    }

    public func clone(owner: String, sourceUUID: String, request: CloneRequest, avoid: [String] = []) async throws -> Drive {
        try await clone(owner: owner, sourceUUID: sourceUUID, request: request, avoid: avoid, now: Date())
    }
}

/// The license catalogue (reference §5).
public protocol LicenseRepository: Sendable {
    /// The catalogue, ordered by name.
    func licenses(limit: Int?, offset: Int) async throws -> (total: Int, licenses: [License])
    /// License `id`, or nil.
    func license(id: Int64) async throws -> License?
    /// The id of the license named by numeric id or by name; nil where none matches.
    func licenseID(forReference reference: String) async throws -> Int64?
}

/// Jobs (reference §4): read by the API, finished by transitions, purged after retention.
public protocol JobRepository: Sendable {
    /// The caller's jobs, most recently modified first, optionally filtered by state.
    func list(owner: String, states: [String], limit: Int?, offset: Int, now: Date) async throws -> (total: Int, jobs: [Job])
    /// The caller's job `uuid`, or `404`.
    func job(owner: String, uuid: String, now: Date) async throws -> Job
    /// Deletes finished jobs last modified before `cutoff`; returns how many.
    @discardableResult
    func purge(finishedBefore cutoff: Date) async throws -> Int
}

extension JobRepository {
    public func list(owner: String, states: [String], limit: Int?, offset: Int) async throws -> (total: Int, jobs: [Job]) {
        try await list(owner: owner, states: states, limit: limit, offset: offset, now: Date())
    }

    public func job(owner: String, uuid: String) async throws -> Job {
        try await job(owner: owner, uuid: uuid, now: Date())
    }
}

/// Servers as mount targets (reference §6): their `drives` make drives `mounted`.
public protocol ServerRepository: Sendable {
    func server(owner: String, uuid: String) async throws -> Server
    func list(owner: String, query: DriveQuery) async throws -> (total: Int, servers: [Server])
    /// Creates servers (all or nothing), stopped, with their drives mounted.
    func create(owner: String, specs: [ServerSpec], now: Date) async throws -> [Server]
    /// PUT: a running server changes only `name`, `meta`, `tags` (and `drives` with hot-plug).
    func update(owner: String, uuid: String, spec: ServerSpec, now: Date) async throws -> Server
    /// Deletes a stopped server; its drives become `unmounted`, or go with it (`recurse`).
    func delete(owner: String, uuid: String, recurse: ServerDeleteRecurse, now: Date) async throws
    /// `?do=start` / `?do=stop`.
    func act(owner: String, uuid: String, operation: ServerAction, now: Date) async throws
}

/// What `POST /servers/{uuid}/action/?do=` asks.
public enum ServerAction: String, Sendable, CaseIterable {
    case start, stop
}

extension ServerRepository {
    public func create(owner: String, specs: [ServerSpec]) async throws -> [Server] {
        try await create(owner: owner, specs: specs, now: Date())
    }

    public func update(owner: String, uuid: String, spec: ServerSpec) async throws -> Server {
        try await update(owner: owner, uuid: uuid, spec: spec, now: Date())
    }

    public func delete(owner: String, uuid: String, recurse: ServerDeleteRecurse) async throws {
        try await delete(owner: owner, uuid: uuid, recurse: recurse, now: Date())
    }

    public func act(owner: String, uuid: String, operation: ServerAction) async throws {
        try await act(owner: owner, uuid: uuid, operation: operation, now: Date())
    }
}

/// Tags (reference §7.3): a tag's `resources` and a resource's `tags` are one relation.
public protocol TagRepository: Sendable {
    func create(owner: String, specs: [TagSpec], now: Date) async throws -> [Tag]
    /// The caller's tags, optionally filtered by name groups (OR inside, AND between).
    func list(owner: String, names: [[String]], limit: Int?, offset: Int) async throws -> (total: Int, tags: [Tag])
    func tag(owner: String, uuid: String) async throws -> Tag
    func update(owner: String, uuid: String, spec: TagSpec) async throws -> Tag
    func delete(owner: String, uuid: String) async throws
    /// The uuids of tag `uuid`'s resources of `type` (`drives` or `servers`).
    func resourceUUIDs(owner: String, uuid: String, type: String) async throws -> [String]
}

extension TagRepository {
    public func create(owner: String, specs: [TagSpec]) async throws -> [Tag] {
        try await create(owner: owner, specs: specs, now: Date())
    }
}

/// The library catalogue (`/libdrives/`, reference §7.2): read-only.
public protocol LibraryRepository: Sendable {
    /// Library drives matching `exact` (field → OR values), `nameContains` and `categories`,
    /// ordered by name.
    func list(
        owner: String, exact: [(String, [String])], nameContains: [[String]], categories: [[String]], limit: Int?, offset: Int
    ) async throws -> (total: Int, drives: [LibraryDrive])
    /// One library drive, or `404`.
    func drive(owner: String, uuid: String) async throws -> LibraryDrive
}

/// The library's exact-match filters (reference §7.2).
public enum LibraryFilters {
    public static let exact = ["arch", "distribution", "image_type", "name", "os", "uuid", "version"]
}
