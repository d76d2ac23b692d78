import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import GRDB
import Testing

@testable import DriveStore

/// Named states in the store: the guards a router test cannot reach without editing rows.
@Suite("Named states in the store")
struct StateStoreTests {
    @Test("a per-account load whose uuids another account now holds is refused with 409 and the uuids, changing nothing")
    func conflictingUUIDs() async throws {
        try await withStore { env in
            let drive = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec("mine")]).first!
            let kept = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec("kept")]).first!
            _ = try await env.stores.states.save(name: "mine", account: env.owner, replace: false, now: Date())
            // Since the save, the drive went to another account (as a whole-daemon load of an
            // older state, or a restored database, can leave things).
            let other = try env.database.addUser(email: "other@example.com", password: "pw", iterations: 1000)
            try env.database.writeSync { db in
                try db.execute(sql: "UPDATE drives SET owner = ?, name = 'theirs' WHERE uuid = ?", arguments: [other.uuid, drive.uuid])
                try db.execute(sql: "UPDATE drives SET name = 'edited' WHERE uuid = ?", arguments: [kept.uuid])
            }
            let before = try env.count("SELECT COUNT(*) FROM drives")
            do {
                _ = try await env.stores.states.load(name: "mine", now: Date())
                Issue.record("the load succeeded")
            } catch let error as CloudSigmaError {
                #expect(error.kind == .conflict)
                #expect(error.status == 409)
                #expect(error.point == "uuid")
                #expect(error.message.contains(drive.uuid))
                #expect(!error.message.contains(kept.uuid))
            }
            // Nothing changed: the edit stays, the other account keeps the drive.
            #expect(try env.count("SELECT COUNT(*) FROM drives") == before)
            #expect(try env.count("SELECT COUNT(*) FROM drives WHERE name = 'edited'") == 1)
            #expect(try env.count("SELECT COUNT(*) FROM drives WHERE name = 'theirs'") == 1)
            // The whole-daemon scope has no such conflict: a state of every account is loaded whole.
            _ = try await env.stores.states.save(name: "all", account: nil, replace: false, now: Date())
            #expect(try await env.stores.states.load(name: "all", now: Date()).deleted == 0)
        }
    }

    @Test("every saved_ table has its live table's columns, so a migration that adds a column adds it to both")
    func savedTablesMatchTheirLiveTables() async throws {
        try await withStore { env in
            try env.database.readSync { db in
                for table in SQLStateRepository.tables {
                    let live = try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info(?) ORDER BY cid", arguments: [table.name])
                    let saved = try String.fetchAll(
                        db, sql: "SELECT name FROM pragma_table_info(?) ORDER BY cid", arguments: ["saved_" + table.name])
                    #expect(saved == ["state_id"] + live, "saved_\(table.name)")
                    for column in table.key { #expect(live.contains(column), "\(table.name).\(column)") }
                }
            }
        }
    }

    /// Tables a state leaves alone, each for a reason: catalogues and the daemon's own machinery
    /// (content is referenced through `refs`; drive counts, related-row counts, sessions and upload links follow the
    /// rows they derive from).
    static let notInStates: Set<String> = [
        "grdb_migrations", "sqlite_sequence", "states", "licenses", "library_drives", "change_events", "event_listeners",
        "outbox", "content_images", "content_extents", "sessions", "credential_epoch", "server_secrets", "transition_modes",
        "owner_drive_counts", "upload_links", "drive_relations",
    ]

    @Test("every table is either in a state or deliberately left out: a new table must choose")
    func everyTableIsAccountedFor() async throws {
        try await withStore { env in
            let tables = try env.database.readSync { db in
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'saved\\_%' ESCAPE '\\'")
            }
            #expect(Set(tables).subtracting(Self.notInStates) == Set(SQLStateRepository.tables.map(\.name)))
        }
    }
}
