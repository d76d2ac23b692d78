import DriveStore
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// Rendered answers of `GET` requests on drives, kept until the next commit.
///
/// Every entry carries the commit counts (global and its account's) read before the data was; an
/// entry is served only while no commit that may have changed that account's data happened
/// since, so a cached answer is always the answer the database would give now. A client that wants to skip the cache anyway sends
/// `Cache-Control: no-cache`. Entries are bounded in number and size; `capacity` 0 turns the cache
/// off (`cache.response_entries`).
final class ResponseCache: Sendable {
    struct Entry: Sendable {
        let generation: CommitGeneration.Snapshot
        let body: ByteBuffer
    }

    /// Answers larger than this are not kept (a `limit=0` list of many drives).
    static let maximumBodyBytes = 256 * 1024

    private let entries = Mutex<[String: Entry]>([:])
    private let hits = Atomic<Int>(0)
    private let misses = Atomic<Int>(0)
    private let bypassed = Atomic<Int>(0)
    private let generation: CommitGeneration
    let capacity: Int

    init(generation: CommitGeneration, capacity: Int) {
        self.generation = generation
        self.capacity = max(0, capacity)
    }

    /// The answer to `request` for user `owner`: from the cache when it is current, otherwise
    /// rendered by `render` (and kept when it may be).
    func answer(
        _ request: Request, owner: String, render: () async throws -> [UInt8]
    ) async throws -> Response {
        guard capacity > 0 else { return .json(bytes: try await render()) }
        let key = owner + " " + request.uri.description
        let bypass = Self.bypasses(request)
        let now = generation.snapshot(owner: owner)
        if bypass {
            bypassed.add(1, ordering: .relaxed)
        } else if let entry = entries.withLock({ $0[key] }), entry.generation == now {
            hits.add(1, ordering: .relaxed)
            return Self.response(entry.body)
        } else {
            misses.add(1, ordering: .relaxed)
        }
        let bytes = try await render()
        let body = ByteBuffer(bytes: bytes)
        if bytes.count <= Self.maximumBodyBytes {
            store(key, owner: owner, Entry(generation: now, body: body))
        }
        return Self.response(body)
    }

    private func store(_ key: String, owner: String, _ entry: Entry) {
        let current = generation.current
        entries.withLock { entries in
            if entries.count >= capacity, entries[key] == nil {
                // Drop what a global commit made stale; when that frees nothing, start over.
                entries = entries.filter { $0.value.generation.global == current }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = entry
        }
    }

    /// Hits, misses, bypasses so far; answers kept (stale ones included until replaced or dropped).
    var statistics: (hits: Int, misses: Int, bypasses: Int, entries: Int) {
        (
            hits.load(ordering: .relaxed), misses.load(ordering: .relaxed), bypassed.load(ordering: .relaxed),
            entries.withLock { $0.count }
        )
    }

    static func response(_ body: ByteBuffer) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
    }

    static let pragma = HTTPField.Name("Pragma")!

    /// `Cache-Control: no-cache` (or `no-store`, or `Pragma: no-cache`) asks for a fresh answer.
    static func bypasses(_ request: Request) -> Bool {
        for value in request.headers[values: .cacheControl] {
            let lower = value.lowercased()
            if lower.contains("no-cache") || lower.contains("no-store") || lower.contains("max-age=0") { return true }
        }
        if let pragma = request.headers[Self.pragma], pragma.lowercased().contains("no-cache") { return true }
        return false
    }
}
