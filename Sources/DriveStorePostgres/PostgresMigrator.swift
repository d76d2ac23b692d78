import PostgresNIO

extension PostgresStore {
    /// The PostgreSQL migrations this binary carries (`migrations/postgres/`), in order.
    public static var knownMigrations: [String] { EmbeddedPostgresMigrations.all.map(\.name) }

    /// The SQL of migration `name` as the binary carries it.
    public static func embeddedSQL(_ name: String) -> String? {
        EmbeddedPostgresMigrations.all.first { $0.name == name }?.sql
    }

    /// Applies the migrations the database lacks, each in its own transaction, and returns their
    /// names. Several processes may start at once against one database: a transaction-scoped
    /// advisory lock lets one migrate while the others wait, then find nothing left to do.
    @discardableResult
    public func migrate() async throws -> [String] {
        var applied: [String] = []
        for migration in EmbeddedPostgresMigrations.all {
            let done = try await transaction { tx in
                try await tx.run("SELECT pg_advisory_xact_lock(\(Self.migrationLock))")
                try await tx.run(
                    """
                    CREATE TABLE IF NOT EXISTS drivesd_migrations (
                        name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                    """)
                if try await tx.run("SELECT 1 FROM drivesd_migrations WHERE name = \(migration.name)") > 0 {
                    return false
                }
                try await tx.runScript(migration.sql)
                try await tx.run("INSERT INTO drivesd_migrations (name) VALUES (\(migration.name))")
                return true
            }
            if done { applied.append(migration.name) }
        }
        return applied
    }

    /// The names of the applied migrations, sorted.
    public func appliedMigrations() async throws -> [String] {
        let exists = try await rows("SELECT to_regclass('drivesd_migrations') IS NOT NULL")
        guard try exists.first?.decode(Bool.self) == true else { return [] }
        return try await rows("SELECT name FROM drivesd_migrations ORDER BY name").map { try $0.decode(String.self) }
    }

    /// Whether every migration this binary carries is applied (readiness).
    public func isMigrated() async throws -> Bool {
        Set(try await appliedMigrations()).isSuperset(of: Self.knownMigrations)
    }

    /// The key of the advisory lock migrations hold (any 64-bit number no other tool uses).
    static let migrationLock: Int64 = 0x6472_6976_6573_6431  // "drivesd1"
}
