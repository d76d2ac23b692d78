import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

/// The license catalogue (seeded by the first migration) and the licenses of drives.
public struct SQLLicenseRepository: LicenseRepository {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    /// The license catalogue, ordered by name.
    public func licenses(limit: Int?, offset: Int) async throws -> (total: Int, licenses: [License]) {
        try await database.read { db in
            let total = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM licenses")) ?? 0
            var sql = "SELECT * FROM licenses ORDER BY name"
            sql += Relations.page(limit: limit, offset: offset)
            return (total, try Row.fetchAll(db, sql: sql).map(Self.license))
        }
    }

    /// License `id`, or nil.
    public func license(id: Int64) async throws -> License? {
        try await database.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM licenses WHERE id = ?"), arguments: [id]).map(Self.license)
        }
    }

    /// Looks licenses up by numeric id or by name; nil where none matches.
    public func licenseID(forReference reference: String) async throws -> Int64? {
        try await database.read { db in
            if let id = Int64(reference) {
                return try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM licenses WHERE id = ?"), arguments: [id])
            }
            return try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM licenses WHERE name = ?"), arguments: [reference])
        }
    }

    static func license(_ row: Row) -> License {
        License(
            id: row["id"], name: row["name"], longName: row["long_name"], type: row["type"],
            userMetric: row["user_metric"], burstable: row["burstable"])
    }

    static func resolveLicenses(_ db: Database, _ requests: [LicenseRequest]) throws -> [DriveLicense] {
        try requests.enumerated().map { index, request in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM licenses WHERE id = ?"), arguments: [request.licenseID])
            else {
                throw CloudSigmaError.validation("licenses", "License \(request.licenseID) does not exist (item \(index))")
            }
            return DriveLicense(amount: request.amount, license: license(row))
        }
    }

    static func insertLicenses(_ db: Database, seq: Int64, _ requests: [LicenseRequest]) throws {
        for (position, request) in requests.enumerated() {
            try db.run(
                sql: "INSERT INTO drive_licenses (drive_seq, position, license_id, amount) VALUES (?, ?, ?, ?)",
                arguments: [seq, position, request.licenseID, request.amount])
        }
    }
}
