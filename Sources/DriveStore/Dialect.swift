/// What the SQL of the shared stores (`Shared/`, compiled into this module and into
/// DriveStorePostgres) says differently in SQLite.
enum Dialect {
    /// Case-insensitive `LIKE` (SQLite's `LIKE` already ignores ASCII case).
    static let caseInsensitiveLike = "LIKE"
    /// The larger of two values.
    static let greatest = "max"
    /// Whether any of a group's boolean expressions holds (as 0 or 1).
    static func anyOf(_ expression: String) -> String { "MAX(\(expression))" }
    /// `OFFSET` without a limit.
    static let noLimit = "LIMIT -1"
    /// The highest drive seq handed out so far (0 before the first).
    static let lastDriveSeq = "SELECT seq FROM sqlite_sequence WHERE name = 'drives'"
    /// The text member `key` of the JSON object in column `column`.
    static func jsonText(_ column: String, _ key: String) -> String { "json_extract(\(column), '$.\(key)')" }
    /// Whether `needle` occurs in `haystack`.
    static func contains(_ haystack: String, _ needle: String) -> String { "instr(\(haystack), \(needle)) > 0" }
    /// A FROM item with one row (`value`) per string of the JSON array in `column`.
    static func jsonStrings(_ column: String) -> String { "json_each(\(column)) AS c" }
    /// The ids (the text at `path`, dot-separated) that the NICs of the owner's servers name, with
    /// the server's uuid and seq (`id`, `server`, `seq`), in server order.
    static func nicReferences(_ path: String) -> String {
        """
        SELECT DISTINCT json_extract(n.value, '$.\(path)') AS id, s.uuid AS server, s.seq
        FROM servers s, json_each(s.extra, '$.nics') n
        WHERE s.owner = ? AND json_type(n.value) = 'object' AND json_extract(n.value, '$.\(path)') IS NOT NULL
        ORDER BY s.seq
        """
    }
    /// The names of a table's columns (`?`: the table), in order.
    static let tableColumns = "SELECT name FROM pragma_table_info(?) ORDER BY cid"
    /// Appended to the worker's query of due transitions: nothing in SQLite (one writer).
    static let claimDue = ""
}
