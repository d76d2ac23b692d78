import GRDB
import GRDBSQLite

/// The current row of a statement, its columns read straight from SQLite by index.
///
/// `Row.fetchCursor` builds a `Row` for each cursor, and GRDB's row lowercases every column name
/// into a dictionary when it is made (for `row["name"]`, which the drive reads never use): 1.6-2.2%
/// of the server's CPU for a no-cache `GET` of a drive or a page of them, with the generic
/// decoding of each column through `DatabaseValueConvertible` on top (Benchmarks/README.md,
/// round 3). Valid only until the cursor steps again.
struct ColumnRow {
    let statement: SQLiteStatement

    @inline(__always) func isNull(_ index: Int) -> Bool { sqlite3_column_type(statement, CInt(index)) == SQLITE_NULL }
    @inline(__always) subscript(_ index: Int) -> Int64 { sqlite3_column_int64(statement, CInt(index)) }
    @inline(__always) subscript(_ index: Int) -> Int64? { isNull(index) ? nil : sqlite3_column_int64(statement, CInt(index)) }
    @inline(__always) subscript(_ index: Int) -> Bool { sqlite3_column_int64(statement, CInt(index)) != 0 }
    @inline(__always) subscript(_ index: Int) -> String { String(sqliteStatement: statement, index: CInt(index)) }
    @inline(__always) subscript(_ index: Int) -> String? {
        isNull(index) ? nil : String(sqliteStatement: statement, index: CInt(index))
    }
}

/// A GRDB cursor of ``ColumnRow``s: GRDB's own stepping (its checks before and after a statement
/// runs), without the `Row`.
final class ColumnCursor: DatabaseCursor {
    typealias Element = ColumnRow
    let _statement: Statement
    var _isDone = false

    init(_ statement: Statement, arguments: StatementArguments) throws {
        _statement = statement
        try statement.setArguments(arguments)
    }

    deinit {
        // As GRDB's cursors do: the statement may be cached and must not stay busy.
        sqlite3_reset(_statement.sqliteStatement)
    }

    @inline(__always) func _element(sqliteStatement: SQLiteStatement) -> ColumnRow { ColumnRow(statement: sqliteStatement) }
}

extension DriveRows {
    /// The drive rows of `statement`, read by column index.
    static func columns(_ statement: Statement, _ arguments: StatementArguments) throws -> ColumnCursor {
        try ColumnCursor(statement, arguments: arguments)
    }
}
