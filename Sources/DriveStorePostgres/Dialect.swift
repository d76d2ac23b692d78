/// What the SQL of the shared stores (`Shared/`, also compiled into DriveStore) says differently
/// in PostgreSQL.
enum Dialect {
    /// Case-insensitive `LIKE` (SQLite's `LIKE` ignores ASCII case: `ILIKE` answers the same).
    static let caseInsensitiveLike = "ILIKE"
    /// The larger of two values.
    static let greatest = "GREATEST"
    /// Whether any of a group's boolean expressions holds.
    static func anyOf(_ expression: String) -> String { "bool_or(\(expression))" }
    /// `OFFSET` without a limit.
    static let noLimit = "LIMIT ALL"
    /// The highest drive seq handed out so far (0 before the first).
    static let lastDriveSeq = "SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence('drives', 'seq')::regclass), 0)"
    /// The text member `key` of the JSON object in column `column`.
    static func jsonText(_ column: String, _ key: String) -> String { "(\(column)::jsonb ->> '\(key)')" }
    /// Whether `needle` occurs in `haystack`.
    static func contains(_ haystack: String, _ needle: String) -> String { "strpos(\(haystack), \(needle)) > 0" }
    /// A FROM item with one row (`value`) per string of the JSON array in `column`.
    static func jsonStrings(_ column: String) -> String { "jsonb_array_elements_text(\(column)::jsonb) AS c(value)" }
    /// The ids (the text at `path`, dot-separated) that the NICs of the owner's servers name, with
    /// the server's uuid and seq (`id`, `server`, `seq`), in server order.
    static func nicReferences(_ path: String) -> String {
        let keys = "{" + path.split(separator: ".").joined(separator: ",") + "}"
        return """
            SELECT DISTINCT n.value #>> '\(keys)' AS id, s.uuid AS server, s.seq
            FROM servers s,
                jsonb_array_elements(
                    CASE WHEN jsonb_typeof(s.extra::jsonb -> 'nics') = 'array' THEN s.extra::jsonb -> 'nics'
                    ELSE '[]'::jsonb END) n(value)
            WHERE s.owner = ? AND jsonb_typeof(n.value) = 'object' AND n.value #>> '\(keys)' IS NOT NULL
            ORDER BY s.seq
            """
    }
    /// The names of a table's columns (`?`: the table), in order.
    static let tableColumns = """
        SELECT column_name::text FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position
        """
    /// Appended to the worker's query of due transitions: several processes run a worker, and
    /// each claims the rows it completes.
    static let claimDue = "FOR UPDATE OF t SKIP LOCKED"
}
