import DriveLifecycle
import DriveModel
import DriveStorage
import DriveStore
@testable import DriveStorePostgres
import Foundation
import GRDB
import Logging
import Testing

extension ProcessSuites {
    // Beside the other process suites, one at a time: starting the private cluster (initdb)
    // takes the two cores for a moment, which the timed connection test must not share.
    /// The PostgreSQL backend so far: what `--database` accepts, the schema's migrations, and the
    /// accounts (users, passwords, sessions, tokens, profiles, allotments), which answer the same as
    /// the SQLite store's, checked against both. Each test has a database of its own in the private
    /// cluster (`PostgresCluster`).
    @Suite("PostgreSQL backend")
    struct PostgresStoreTests {
        static var logger: Logger {
            var logger = Logger(label: "pg-test")
            logger.logLevel = .warning
            return logger
        }

        @Test("--database: a path is SQLite, postgres:// and postgresql:// URLs are PostgreSQL; bad URLs say what is wrong")
        func locations() throws {
            #expect(try DatabaseLocation(parsing: "./drivesd.sqlite") == .sqlite(path: "./drivesd.sqlite"))
            #expect(try DatabaseLocation(parsing: "/var/lib/drivesd/db.sqlite") == .sqlite(path: "/var/lib/drivesd/db.sqlite"))
            let tcp = try PostgresCluster.address("postgres://ci:s%40cret@db.example:6543/drivesd")
            #expect(tcp == PostgresAddress(user: "ci", password: "s@cret", host: "db.example", port: 6543, database: "drivesd"))
            #expect(tcp.description == "postgres://ci:***@db.example:6543/drivesd")
            #expect(tcp.socketPath == nil)
            let socket = try PostgresCluster.address("postgresql://drivesd@/state?host=/run/postgresql")
            #expect(socket.host == nil)
            #expect(socket.port == 5432)
            #expect(socket.password == nil)
            #expect(socket.socketPath == "/run/postgresql/.s.PGSQL.5432")
            #expect(socket.description == "postgres://drivesd@:5432/state?host=/run/postgresql")
            #expect(try PostgresCluster.address("POSTGRES://u@h/d?application_name=ci-7").applicationName == "ci-7")
            for (bad, says) in [
                ("mysql://u@h/d", "unsupported database URL scheme mysql"),
                ("postgres://u@h/", "names no database"),
                ("postgres://h/d", "names no user"),
                ("postgres://u@/d", "names no host"),
                ("postgres://u@h/d?host=relative", "absolute directory"),
                ("postgres://u@h/d?sslmode=require", "sslmode=require is not supported"),
                ("postgres://u@h/d?timeout=3", "unknown URL parameter timeout"),
                ("", "empty"),
            ] {
                #expect(throws: DatabaseLocationError.self, "\(bad)") { try DatabaseLocation(parsing: bad) }
                do {
                    _ = try DatabaseLocation(parsing: bad)
                } catch {
                    #expect(error.description.contains(says), "\(bad): \(error.description)")
                }
            }
        }

        @Test("migration scripts split into statements at top-level semicolons only")
        func scriptSplitting() {
            let script = """
                -- a comment; with a semicolon
                CREATE TABLE a (t TEXT DEFAULT 'x;y', "odd;name" INT);
                /* block; comment */ INSERT INTO a (t) VALUES ('it''s; fine');
                CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN NEW.t := 'a;b'; RETURN NEW; END $$ LANGUAGE plpgsql;
                CREATE FUNCTION g() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
                SELECT $1;
                ;
                -- trailing comment only
                """
            let statements = SQLScript.statements(script)
            #expect(statements.count == 5, "\(statements)")
            #expect(statements[0].hasSuffix("CREATE TABLE a (t TEXT DEFAULT 'x;y', \"odd;name\" INT)"))
            #expect(statements[1] == "/* block; comment */ INSERT INTO a (t) VALUES ('it''s; fine')")
            #expect(statements[2].hasSuffix("RETURN NEW; END $$ LANGUAGE plpgsql"))
            #expect(statements[3] == "CREATE FUNCTION g() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql")
            #expect(statements[4] == "SELECT $1")
        }

        @Test("migrations: every file of migrations/postgres is embedded verbatim and applied once, also by two processes at once")
        func migrations() async throws {
            let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../migrations/postgres").standardizedFileURL
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sql") }.sorted()
            #expect(files.map { String($0.dropLast(4)) } == PostgresStore.knownMigrations)
            for file in files {
                let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
                var trimmed = text
                while trimmed.hasSuffix("\n") { trimmed.removeLast() }
                #expect(PostgresStore.embeddedSQL(String(file.dropLast(4))) == trimmed, "\(file): run scripts/embed-migrations")
            }

            let url = try PostgresCluster.freshDatabase()
            let address = try PostgresCluster.address(url)
            // Two stores (two daemons starting together) migrate one empty database at once.
            async let first = PostgresStore.withRunning(address, logger: Self.logger) { try await $0.migrate() }
            async let second = PostgresStore.withRunning(address, logger: Self.logger) { try await $0.migrate() }
            let (a, b) = try await (first, second)
            #expect((a + b).sorted() == PostgresStore.knownMigrations.sorted(), "each migration applied exactly once: \(a) \(b)")
            try await PostgresStore.withRunning(address, logger: Self.logger) { (store: PostgresStore) async throws in
                #expect(try await store.migrate().isEmpty)
                #expect(try await store.appliedMigrations() == PostgresStore.knownMigrations.sorted())
                #expect(try await store.isMigrated())
            }
            // The schema is there, with its seed rows.
            #expect(try PostgresCluster.psql(url, "SELECT count(*) > 0 FROM licenses") == "t")
            #expect(try PostgresCluster.psql(url, "SELECT value FROM credential_epoch WHERE id = 1") == "0")
        }

        /// The two account stores under test, each on a new database.
        enum Backend: String, CaseIterable, CustomTestStringConvertible {
            case sqlite, postgres
            var testDescription: String { rawValue }

            func withAccounts(_ body: @Sendable (any AccountRepository, _ rows: @Sendable (String) throws -> String) async throws -> Void)
                async throws
            {
                switch self {
                case .sqlite:
                    let path = NSTemporaryDirectory() + "pg-compare-\(UUID().uuidString).sqlite"
                    defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
                    let database = try AppDatabase.open(path: path)
                    try database.migrate()
                    try await DriveStore.SQLNetworkRepository(database: database).allot(ips: 2, vlans: 1)
                    let reader = try DatabaseQueue(path: path)
                    try await body(database) { sql in
                        try reader.read { db in
                            switch try DatabaseValue.fetchOne(db, sql: sql)?.storage {
                            case .int64(let n): "\(n)"
                            case .string(let s): s
                            case .double(let d): "\(d)"
                            case .blob(let b): "\(b)"
                            case .null, nil: ""
                            }
                        }
                    }
                    try database.close()
                case .postgres:
                    let url = try PostgresCluster.freshDatabase()
                    try await PostgresStore.withRunning(try PostgresCluster.address(url), logger: PostgresStoreTests.logger) { (store: PostgresStore) async throws in
                        try await store.migrate()
                        try await DriveStorePostgres.SQLNetworkRepository(database: PostgresAppDatabase(store: store)).allot(ips: 2, vlans: 1)
                        try await body(store) { sql in try PostgresCluster.psql(url, sql) }
                    }
                }
            }
        }

        @Test("accounts answer the same on both backends: users, emails in any case, passwords, Digest HA1, allotments", arguments: Backend.allCases)
        func users(_ backend: Backend) async throws {
            try await backend.withAccounts { accounts, rows in
                let alice = try await accounts.createUser(email: " Alice@Example.com ", password: "pw-1", iterations: 1000)
                #expect(alice.email == "Alice@Example.com")
                await #expect(throws: UserError.emailTaken("alice@example.COM")) {
                    try await accounts.createUser(email: "alice@example.COM", password: "x", iterations: 1000)
                }
                await #expect(throws: UserError.invalidEmail("nobody")) {
                    try await accounts.createUser(email: "nobody", password: "x", iterations: 1000)
                }
                await #expect(throws: UserError.emptyPassword) {
                    try await accounts.createUser(email: "e@example.com", password: "", iterations: 1000)
                }
                let bob = try await accounts.createUser(email: "bob@example.com", password: "pw-2", iterations: 1000)
                #expect(try await accounts.listUsers() == [alice, bob])
                #expect(try await accounts.user("ALICE@example.com") == alice)
                #expect(try await accounts.user(bob.uuid) == bob)
                #expect(try await accounts.user("carol@example.com") == nil)

                #expect(try await accounts.verifyUser(email: "alice@EXAMPLE.com", password: "pw-1") == alice)
                #expect(try await accounts.verifyUser(email: "alice@example.com", password: "pw-2") == nil)
                #expect(try await accounts.verifyUser(email: "carol@example.com", password: "pw-1") == nil)
                let digest = try await accounts.digestCredential(username: "alice@example.com")
                #expect(digest?.user == alice)
                #expect(digest?.ha1 == Credentials.digestHA1(email: "Alice@Example.com", password: "pw-1"))

                // The allotment: two IPs and one VLAN each, addresses never repeated across accounts.
                #expect(try rows("SELECT count(*) FROM ips") == "4")
                #expect(try rows("SELECT count(DISTINCT address) FROM ips") == "4")
                #expect(try rows("SELECT count(*) FROM vlans WHERE owner = '\(bob.uuid)'") == "1")
                #expect(try rows("SELECT nameservers FROM ips ORDER BY seq LIMIT 1") == "[\"100.64.0.1\"]")

                // A new password: the old one stops, the sessions end, the credential epoch moves.
                let epoch = try await accounts.credentialEpoch()
                let session = try await accounts.createSession(userUUID: alice.uuid, lifetime: 60, now: Date())
                #expect(try await accounts.session(key: session.key, now: Date())?.user == alice)
                #expect(try await accounts.setPassword(user: "alice@example.com", password: "pw-3", iterations: 1000) == alice)
                #expect(try await accounts.session(key: session.key, now: Date()) == nil)
                #expect(try await accounts.verifyUser(email: "alice@example.com", password: "pw-1") == nil)
                #expect(try await accounts.verifyUser(email: "alice@example.com", password: "pw-3") == alice)
                // One step for the new hash, one for the session it ended (each trigger's own).
                let after = try await accounts.credentialEpoch()
                #expect(after == epoch + 2, "epoch \(epoch) -> \(after)")
                await #expect(throws: UserError.noSuchUser("carol@example.com")) {
                    try await accounts.setPassword(user: "carol@example.com", password: "x", iterations: 1000)
                }
            }
        }

        @Test("sessions, bearer tokens and profiles answer the same on both backends", arguments: Backend.allCases)
        func credentials(_ backend: Backend) async throws {
            try await backend.withAccounts { accounts, rows in
                let user = try await accounts.createUser(email: "t@example.com", password: "pw", iterations: 1000)
                let now = Date()
                let session = try await accounts.createSession(userUUID: user.uuid, lifetime: 30, now: now)
                #expect(try await accounts.session(key: session.key, now: now)?.csrfToken == session.csrfToken)
                #expect(try await accounts.session(key: session.key, now: now.addingTimeInterval(31)) == nil)
                #expect(try await accounts.session(key: "not-a-key", now: now) == nil)
                #expect(try await accounts.deleteSession(key: session.key))
                #expect(try await accounts.deleteSession(key: session.key) == false)

                let forever = try await accounts.createToken(user: "T@example.com", expiresIn: nil, now: now)
                let brief = try await accounts.createToken(user: user.uuid, expiresIn: 10, now: now)
                #expect(forever.token.hasPrefix("dsd_"))
                #expect(try await accounts.tokenUser(token: forever.token, now: now)?.user == user)
                #expect(try await accounts.tokenUser(token: brief.token, now: now.addingTimeInterval(11)) == nil)
                #expect(try await accounts.tokens(user: "t@example.com").map(\.id).sorted() == [forever.info.id, brief.info.id].sorted())
                // Stored hashed: the token itself is nowhere in the table.
                #expect(try rows("SELECT count(*) FROM api_tokens WHERE id = '\(forever.info.id)'") == "1")
                #expect(try rows("SELECT count(*) FROM api_tokens WHERE CAST(token_hash AS TEXT) LIKE '%\(forever.token.dropFirst(4))%'") == "0")
                #expect(try await accounts.revokeToken(brief.info.id))
                #expect(try await accounts.revokeToken(forever.token))
                #expect(try await accounts.revokeToken(forever.token) == false)
                #expect(try await accounts.tokenUser(token: forever.token, now: now) == nil)
                await #expect(throws: UserError.invalidExpiry) { try await accounts.createToken(user: user.uuid, expiresIn: 0, now: now) }

                #expect(try await accounts.profile(userUUID: user.uuid) == Profile())
                let profile = try await accounts.updateProfile(
                    user: user, body: ["clone_naming": .string("COUNTER"), "first_name": .string("Ada")])
                #expect(profile.cloneNaming == .counter)
                #expect(try await accounts.profile(userUUID: user.uuid) == profile)
                #expect(try rows("SELECT fields FROM profiles") == JSONValue.object(profile.fields).jsonString)

                let secret = try await accounts.secret(named: "digest-nonce")
                #expect(secret.count == 32)
                #expect(try await accounts.secret(named: "digest-nonce") == secret)
            }
        }

        @Test("two processes on one database: an account made through one is seen by the other at once, and both sign with one secret")
        func twoProcesses() async throws {
            let address = try PostgresCluster.address(try PostgresCluster.freshDatabase())
            try await PostgresStore.withRunning(address, logger: Self.logger) { (one: PostgresStore) async throws in
                try await PostgresStore.withRunning(address, logger: Self.logger) { (two: PostgresStore) async throws in
                    try await one.migrate()
                    #expect(try await two.isMigrated())
                    let user = try await one.createUser(email: "shared@example.com", password: "pw", iterations: 1000)
                    #expect(try await two.user("shared@example.com") == user)
                    #expect(try await two.verifyUser(email: "shared@example.com", password: "pw") == user)
                    let token = try await two.createToken(user: user.uuid, expiresIn: nil, now: Date())
                    #expect(try await one.tokenUser(token: token.token, now: Date())?.user == user)
                    // Both ask for the nonce secret at once: one makes it, the other reads the same.
                    async let a = one.secret(named: "async-auth")
                    async let b = two.secret(named: "async-auth")
                    let (x, y) = try await (a, b)
                    #expect(x == y)
                    // Emails are unique across processes too.
                    await #expect(throws: UserError.emailTaken("SHARED@example.com")) {
                        try await two.createUser(email: "SHARED@example.com", password: "x", iterations: 1000)
                    }
                }
            }
        }
    }

    /// The commands on a PostgreSQL URL, as a user types them.
    @Suite("PostgreSQL backend: the command line")
    struct PostgresCommandTests {
        func drivesd(_ arguments: [String]) throws -> (Int32, String) {
            var environment = ProcessInfo.processInfo.environment
            environment["DRIVESD_AUTH_PBKDF2_ITERATIONS"] = "1000"
            return try ChildProcess.run(try DaemonProcess.binary.path, arguments, environment: environment, errors: true)
        }

        @Test("migrate, user, token and check-config work on a postgres:// URL; backup and restore say what to do instead")
        func commands() throws {
            let url = try PostgresCluster.freshDatabase()
            var (code, out) = try drivesd(["migrate", "--database", url])
            #expect(code == 0)
            #expect(out == PostgresStore.knownMigrations.map { "applied \($0)\n" }.joined(), "\(out)")
            (code, out) = try drivesd(["migrate", "--database", url])
            #expect(out == "no pending migrations\n")

            (code, out) = try drivesd(["user", "add", "ci@example.com", "--password", "pw", "--database", url])
            #expect(code == 0)
            let uuid = out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try PostgresCluster.psql(url, "SELECT email FROM users WHERE uuid = '\(uuid)'") == "ci@example.com")
            (code, out) = try drivesd(["user", "add", "CI@example.com", "--password", "pw", "--database", url])
            #expect(code != 0)
            #expect(out.contains("a user with email CI@example.com already exists"), "\(out)")
            (code, out) = try drivesd(["user", "list", "--database", url])
            #expect(out.hasPrefix("\(uuid)\tci@example.com\t"), "\(out)")
            (code, out) = try drivesd(["user", "password", "ci@example.com", "--password", "pw-2", "--database", url])
            #expect(code == 0)

            (code, out) = try drivesd(["token", "create", "ci@example.com", "--database", url])
            let token = out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(code == 0 && token.hasPrefix("dsd_"), "\(out)")
            (code, out) = try drivesd(["token", "list", "ci@example.com", "--database", url])
            #expect(out.hasSuffix("\tnever\n"), "\(out)")
            (code, out) = try drivesd(["token", "revoke", token, "--database", url])
            #expect(out == "revoked\n")
            #expect(try PostgresCluster.psql(url, "SELECT count(*) FROM api_tokens") == "0")

            (code, out) = try drivesd(["check-config", "--database", url.replacingOccurrences(of: "drivesd:drivesd@", with: "drivesd:hunter2@")])
            #expect(code == 0)
            #expect(out.contains("database: postgres://drivesd:***@127.0.0.1:"), "\(out)")
            #expect(!out.contains("hunter2"), "the password is never printed")
            (code, out) = try drivesd(["check-config", "--database", "postgres://ci@db/"])
            #expect(code == 1)
            #expect(out.contains("database.path: the PostgreSQL URL names no database"), "\(out)")

            (code, out) = try drivesd(["backup", NSTemporaryDirectory() + "pg-backup-\(UUID().uuidString)", "--database", url])
            #expect(code != 0)
            #expect(out.contains("pg_dump --format=custom"), "\(out)")
            (code, out) = try drivesd(["restore", "/nonexistent", "--database", url])
            #expect(code != 0)
            #expect(out.contains("pg_restore --clean"), "\(out)")

            // A server that is not there: a clear error at once, not a minute of retries.
            let started = Date()
            (code, out) = try drivesd(["user", "list", "--database", "postgres://ci@127.0.0.1:1/drivesd"])
            #expect(code != 0)
            #expect(out.contains("cannot connect"), "\(out)")
            #expect(Date().timeIntervalSince(started) < 10)
        }
    }

    /// What crosses processes on PostgreSQL: a commit in one wakes the other (LISTEN/NOTIFY), and the
    /// change events it recorded are there for the other's websocket hub to read.
    @Suite("PostgreSQL backend: between processes")
    struct PostgresBetweenProcessesTests {
        @Test("a drive created through one process rings the other's doorbells and its change event is read there")
        func commitsReachTheOtherProcess() async throws {
            let url = try PostgresCluster.freshDatabase()
            let address = try PostgresCluster.address(url)
            let one = PostgresAppDatabase(store: PostgresStore(address: address, logger: PostgresStoreTests.logger, maxConnections: 3))
            let two = PostgresAppDatabase(store: PostgresStore(address: address, logger: PostgresStoreTests.logger, maxConnections: 3))
            let tasks = [
                Task { await one.store.run() }, Task { await two.store.run() }, Task { await one.listen() }, Task { await two.listen() },
            ]
            defer { for task in tasks { task.cancel() } }
            try await one.migrate()
            try await two.migrate()
            let user = try await one.store.createUser(email: "events@example.com", password: "pw", iterations: 1000)
            // A create that takes a second: one due at once completes in its own transaction.
            let storesOne = try await one.stores(durations: OperationDurations(createSeconds: 1, timeScale: 1))
            let storesTwo = try await two.stores(durations: OperationDurations(timeScale: 0))
            // A subscriber on process two: events are recorded from now on.
            try await storesTwo.events.addListeners(1)
            let cursor = try await storesTwo.events.latestEventID()
            // LISTEN is set up (its first pass rings everything once): start from quiet doorbells.
            for _ in 0..<100 where !two.signals.events.isRung { try await Task.sleep(for: .milliseconds(10)) }
            await two.signals.events.wait(upTo: .milliseconds(1))
            await two.signals.transitions.wait(upTo: .milliseconds(1))
            #expect(!two.signals.events.isRung)
            #expect(!two.signals.transitions.isRung)

            let drive = try await storesOne.drives.create(
                owner: user.uuid, specs: [DriveSpec(name: "seen", size: 1 << 30, media: .disk, storageType: "dssd")])[0]
            // Process two hears of it without any request of its own.
            for _ in 0..<300 where !(two.signals.events.isRung && two.signals.transitions.isRung) {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(two.signals.events.isRung)
            #expect(two.signals.transitions.isRung, "its worker wakes for the transition the other scheduled")
            let events = try await storesTwo.events.events(after: cursor, limit: 10)
            #expect(events.map(\.uuid) == [drive.uuid])
            #expect(events.first?.resourceType == "drives")
            #expect(events.first?.owner == user.uuid)
            // And its worker completes it: exactly one process does (the row is claimed and gone).
            let first = try await storesTwo.transitions.completeDue(now: Date().addingTimeInterval(5), limit: 10)
            let again = try await storesOne.transitions.completeDue(now: Date().addingTimeInterval(5), limit: 10)
            #expect(first.moved == [drive.uuid])
            #expect(again.moved.isEmpty)
            #expect(try await storesOne.drives.drive(owner: user.uuid, uuid: drive.uuid).status == .unmounted)
        }
    }
}
