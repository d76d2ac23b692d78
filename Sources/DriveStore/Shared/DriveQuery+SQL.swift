import DriveModel
import DriveStorage
#if !POSTGRES
import GRDB
#endif

extension DriveQuery {
    /// The SQL conditions (over table alias `alias`, with `owner`, `uuid` and `name` columns) and
    /// their arguments: the owner, then each filter group; groups AND together, values OR.
    func whereClauses(alias: String, owner: String) -> (clauses: [String], args: [any DatabaseValueConvertible]) {
        var clauses = ["\(alias).owner = ?"]
        var args: [any DatabaseValueConvertible] = [owner]
        for group in exact where !group.values.isEmpty {
            clauses.append("\(alias).\(group.field.rawValue) IN (\(Relations.placeholders(group.values.count)))")
            args += group.values as [any DatabaseValueConvertible]
        }
        for group in nameContains where !group.isEmpty {
            clauses.append("(" + group.map { _ in "\(alias).name \(Dialect.caseInsensitiveLike) ? ESCAPE '\\'" }.joined(separator: " OR ") + ")")
            args += group.map { "%" + SQLDriveRepository.escapeLike($0) + "%" } as [any DatabaseValueConvertible]
        }
        if !statuses.isEmpty {
            clauses.append("\(alias).status IN (\(Relations.placeholders(statuses.count)))")
            args += statuses as [any DatabaseValueConvertible]
            // The index by status holds only the drives that are not unmounted: a filter that
            // leaves those out names the index's condition, so that the planner may use it.
            if !statuses.contains(DriveStatus.unmounted.rawValue) {
                clauses.append(SQLDriveRepository.notUnmounted("\(alias).status"))
            }
        }
        for (column, groups) in [("t.uuid", tags), ("t.name", tagNames)] {
            for group in groups where !group.isEmpty {
                clauses.append(
                    """
                    \(alias).uuid IN (SELECT tr.res_uuid FROM tag_resources tr JOIN tags t ON t.seq = tr.tag_seq
                               WHERE t.owner = ? AND \(column) IN (\(Relations.placeholders(group.count))))
                    """)
                args.append(owner)
                args += group as [any DatabaseValueConvertible]
            }
        }
        return (clauses, args)
    }

}
