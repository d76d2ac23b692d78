import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

/// The library catalogue (`/libdrives/`), seeded by a migration and read-only.
public struct SQLLibraryRepository: LibraryRepository {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    /// Library drives matching `exact` (column → OR values), `nameContains` and `category`
    /// filters, ordered by name.
    public func list(
        owner: String, exact: [(String, [String])], nameContains: [[String]], categories: [[String]], limit: Int?, offset: Int
    ) async throws -> (total: Int, drives: [LibraryDrive]) {
        try await database.read { db in
            var clauses = ["1 = 1"]
            var args: [any DatabaseValueConvertible] = []
            for (column, values) in exact where LibraryFilters.exact.contains(column) && !values.isEmpty {
                clauses.append("\(column) IN (\(Relations.placeholders(values.count)))")
                args += values as [any DatabaseValueConvertible]
            }
            for group in nameContains where !group.isEmpty {
                clauses.append("(" + group.map { _ in "name \(Dialect.caseInsensitiveLike) ? ESCAPE '\\'" }.joined(separator: " OR ") + ")")
                args += group.map { "%" + SQLDriveRepository.escapeLike($0) + "%" } as [any DatabaseValueConvertible]
            }
            for group in categories where !group.isEmpty {
                clauses.append(
                    "EXISTS (SELECT 1 FROM \(Dialect.jsonStrings("category")) WHERE c.value IN (\(Relations.placeholders(group.count))))")
                args += group as [any DatabaseValueConvertible]
            }
            let whereSQL = clauses.joined(separator: " AND ")
            let total = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM library_drives WHERE \(whereSQL)", arguments: StatementArguments(args)) ?? 0
            var tail = " ORDER BY name, uuid"
            tail += Relations.page(limit: limit, offset: offset)
            return (total, try Self.fetch(db, owner: owner, where: whereSQL, args, tail: tail))
        }
    }

    /// One library drive, or `404 notexist`.
    public func drive(owner: String, uuid: String) async throws -> LibraryDrive {
        try await database.read { db in
            guard let drive = try Self.fetch(db, owner: owner, uuid: uuid) else { throw CloudSigmaError.notExist(uuid) }
            return drive
        }
    }

    /// Library drive `uuid` as `owner` sees it, or nil.
    static func fetch(_ db: Database, owner: String, uuid: String) throws -> LibraryDrive? {
        try fetch(db, owner: owner, where: "uuid = ?", [uuid]).first
    }

    /// Whether `uuid` names a library drive.
    static func exists(_ db: Database, uuid: String) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM library_drives WHERE uuid = ?"), arguments: [uuid]) == true
    }

    /// Library drives with their licenses and the caller's servers they are attached to.
    private static func fetch(
        _ db: Database, owner: String, where whereSQL: String, _ args: [any DatabaseValueConvertible], tail: String = ""
    ) throws -> [LibraryDrive] {
        let rows = try Row.fetchAll(
            db, sql: "SELECT * FROM library_drives WHERE \(whereSQL)\(tail)", arguments: StatementArguments(args))
        return try rows.map { row in
            let licenses = try (Codec.decode(row["licenses"])?.arrayValue ?? []).compactMap { item -> DriveLicense? in
                guard case .int(let id)? = item["license"],
                    let licenseRow = try Row.fetchOne(db, sql: "SELECT * FROM licenses WHERE id = ?", arguments: [id])
                else { return nil }
                var amount: Int64 = 1
                if case .int(let n)? = item["amount"] { amount = n }
                return DriveLicense(amount: amount, license: SQLLicenseRepository.license(licenseRow))
            }
            var drive = LibraryDrive(
                uuid: row["uuid"], name: row["name"], size: row["size"],
                media: DriveMedia(rawValue: row["media"]) ?? .disk, arch: row["arch"],
                category: Codec.decodeStrings(row["category"]), description: row["description"],
                distribution: row["distribution"], imageType: row["image_type"], installNotes: row["install_notes"],
                os: row["os"], paid: row["paid"], url: row["url"], version: row["version"], defaultUser: row["default_user"],
                licenses: licenses)
            drive.mountedOn = try String.fetchAll(
                db,
                sql: """
                    SELECT s.uuid FROM server_drives sd JOIN servers s ON s.seq = sd.server_seq
                    WHERE sd.library_uuid = ? AND s.owner = ? GROUP BY s.seq, s.uuid ORDER BY s.seq
                    """,
                arguments: [drive.uuid, owner])
            return drive
        }
    }
}
