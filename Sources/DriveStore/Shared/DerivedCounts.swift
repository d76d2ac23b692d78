import DriveStorage
#if !POSTGRES
import GRDB
#endif

/// The counts triggers keep beside the rows they count (`owner_drive_counts`: drives per account;
/// `drive_relations`: related rows per drive), checked against a recount. A read that trusts a
/// count that drifted would answer wrongly (a total_count, a drive without its mounts), so the
/// integrity checks of both backends run this.
enum DerivedCounts {
    /// What differs, at most ten accounts and ten drives named; empty when every count holds.
    static func problems(_ db: Database) throws -> [String] {
        var problems: [String] = []
        let owners = try String.fetchAll(
            db,
            sql: """
                SELECT u.uuid FROM users u LEFT JOIN owner_drive_counts c ON c.owner = u.uuid
                WHERE COALESCE(c.drives, 0) != (SELECT COUNT(*) FROM drives d WHERE d.owner = u.uuid)
                ORDER BY u.uuid LIMIT 10
                """)
        if !owners.isEmpty {
            problems.append("owner_drive_counts differs from the drives of \(owners.joined(separator: ", "))")
        }
        let drives = try Int64.fetchAll(
            db,
            sql: """
                SELECT d.seq FROM drives d LEFT JOIN drive_relations r ON r.drive_seq = d.seq
                WHERE COALESCE(r.licenses, 0) != (SELECT COUNT(*) FROM drive_licenses x WHERE x.drive_seq = d.seq)
                   OR COALESCE(r.jobs, 0) != (SELECT COUNT(*) FROM drive_jobs x WHERE x.drive_seq = d.seq)
                   OR COALESCE(r.mounts, 0) != (SELECT COUNT(*) FROM server_drives x WHERE x.drive_seq = d.seq)
                   OR COALESCE(r.tags, 0) != (SELECT COUNT(*) FROM tag_resources x WHERE x.res_uuid = d.uuid AND x.res_type = 'drives')
                   OR COALESCE(r.snapshots, 0) != (SELECT COUNT(*) FROM snapshots x WHERE x.drive_seq = d.seq)
                ORDER BY d.seq LIMIT 10
                """)
        if !drives.isEmpty {
            problems.append("drive_relations differs from the related rows of drives \(drives.map(String.init).joined(separator: ", "))")
        }
        return problems
    }
}
