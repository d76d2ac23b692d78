import DriveModel
import DriveStorage
import Foundation
import Logging
import NIOCore
import PostgresNIO

// A synchronous SQL interface over one PostgreSQL connection, shaped like the part of GRDB the
// SQLite stores use (`Row.fetchAll(db, sql:arguments:)`, `Int64.fetchOne`, `db.execute`,
// `db.changesCount`, `?` placeholders). The stores' transaction bodies are synchronous closures;
// here they run on a Dispatch thread that waits for each query's answer, the way GRDB runs them
// on its own queues over SQLite. That keeps the PostgreSQL stores line for line beside the
// SQLite ones: a fix in one is found in the other, and the answers come out the same.

/// One connection inside one transaction, used from a thread that may block.
final class Database: @unchecked Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// Rows the last `execute` inserted, updated or deleted.
    private(set) var changesCount = 0
    /// Rows changed by this transaction so far.
    private(set) var totalChangesCount = 0

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    var isInsideTransaction: Bool { true }

    /// Runs one statement; `changesCount` becomes the number of rows it changed.
    func execute(sql: String, arguments: StatementArguments = StatementArguments()) throws {
        let result = try query(sql, arguments)
        changesCount = result.metadata.rows ?? 0
        totalChangesCount += changesCount
    }

    /// `execute`, for statements whose text is fixed (GRDB's statement cache has no equivalent
    /// here: postgres-nio prepares each query it sends).
    func run(sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try execute(sql: sql, arguments: arguments)
    }

    func cachedStatement(sql: String) throws -> Statement { Statement(database: self, sql: sql) }
    func makeStatement(sql: String) throws -> Statement { Statement(database: self, sql: sql) }

    func tableExists(_ name: String) throws -> Bool {
        try Bool.fetchOne(self, sql: "SELECT to_regclass(?) IS NOT NULL", arguments: [name]) ?? false
    }

    /// Sends `sql` (with `?` placeholders) and waits for all of its rows.
    func query(_ sql: String, _ arguments: StatementArguments) throws -> PostgresQueryResult {
        var bindings = PostgresBindings(capacity: arguments.values.count)
        for value in arguments.values {
            if let value { value.bind(into: &bindings) } else { bindings.appendNull() }
        }
        let query = PostgresQuery(unsafeSQL: SQLText.numbered(sql), binds: bindings)
        let future: EventLoopFuture<PostgresQueryResult> = connection.query(query, logger: logger)
        do {
            return try future.wait()
        } catch {
            let translated = PostgresStore.translate(error)
            if let server = translated as? PostgresServerError, server.sqlState == "22021" || server.sqlState == "22P05" {
                // Text PostgreSQL cannot store (a NUL character): the request's fault, as SQLite
                // would have stored it.
                throw CloudSigmaError.validation(nil, "Text must not contain NUL (\\u0000) characters")
            }
            throw translated
        }
    }

    func rows(_ sql: String, _ arguments: StatementArguments) throws -> [Row] {
        let result = try query(sql, arguments)
        changesCount = result.metadata.rows ?? 0
        if result.metadata.command != "SELECT" { totalChangesCount += changesCount }
        return result.rows.map { Row($0.makeRandomAccess()) }
    }
}

/// A statement's text bound to its connection (GRDB's `Statement`, minus the preparation).
struct Statement {
    let database: Database
    let sql: String

    func execute(arguments: StatementArguments = StatementArguments()) throws {
        try database.execute(sql: sql, arguments: arguments)
    }
}

/// The values of a statement's `?` placeholders, in order.
struct StatementArguments: ExpressibleByArrayLiteral, Sendable {
    var values: [(any DatabaseValueConvertible)?]

    init() { values = [] }
    init(_ values: [(any DatabaseValueConvertible)?]) { self.values = values }
    init<S: Sequence>(_ values: S) where S.Element: DatabaseValueConvertible { self.values = values.map { $0 } }
    init(arrayLiteral elements: (any DatabaseValueConvertible)?...) { values = elements }

    static func + (lhs: StatementArguments, rhs: StatementArguments) -> StatementArguments {
        StatementArguments(lhs.values + rhs.values)
    }

    static func += (lhs: inout StatementArguments, rhs: StatementArguments) {
        lhs.values += rhs.values
    }
}

/// A value that can be bound to a placeholder and read from a column.
protocol DatabaseValueConvertible: Sendable {
    func bind(into bindings: inout PostgresBindings)
    /// The value of `cell`; nil for SQL NULL (and for what cannot be read as this type).
    static func decode(_ cell: PostgresCell) -> Self?
}

extension DatabaseValueConvertible {
    static func fetchAll(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> [Self] {
        try db.rows(sql, arguments).compactMap { $0.cells.first.flatMap(Self.decode) }
    }

    static func fetchAll(_ statement: Statement, arguments: StatementArguments = StatementArguments()) throws -> [Self] {
        try fetchAll(statement.database, sql: statement.sql, arguments: arguments)
    }

    static func fetchOne(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> Self? {
        try db.rows(sql, arguments).first?.cells.first.flatMap(Self.decode)
    }

    static func fetchOne(_ statement: Statement, arguments: StatementArguments = StatementArguments()) throws -> Self? {
        try fetchOne(statement.database, sql: statement.sql, arguments: arguments)
    }
}

/// One row of an answer; columns by index or name.
struct Row: Sendable {
    let cells: [PostgresCell]

    init(_ row: PostgresRandomAccessRow) {
        cells = (0..<row.count).map { row[$0] }
    }

    subscript<T: DatabaseValueConvertible>(_ index: Int) -> T {
        guard let value = T.decode(cells[index]) else {
            preconditionFailure("column \(index) (\(cells[index].columnName)) is NULL or not a \(T.self)")
        }
        return value
    }

    subscript<T: DatabaseValueConvertible>(_ index: Int) -> T? {
        T.decode(cells[index])
    }

    subscript<T: DatabaseValueConvertible>(_ name: String) -> T {
        self[index(of: name)]
    }

    subscript<T: DatabaseValueConvertible>(_ name: String) -> T? {
        self[index(of: name)]
    }

    func index(of name: String) -> Int {
        guard let index = cells.firstIndex(where: { $0.columnName == name }) else {
            preconditionFailure("no column \(name) in \(cells.map(\.columnName))")
        }
        return index
    }

    static func fetchAll(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> [Row] {
        try db.rows(sql, arguments)
    }

    static func fetchAll(_ statement: Statement, arguments: StatementArguments = StatementArguments()) throws -> [Row] {
        try statement.database.rows(statement.sql, arguments)
    }

    static func fetchOne(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> Row? {
        try db.rows(sql, arguments).first
    }

    static func fetchOne(_ statement: Statement, arguments: StatementArguments = StatementArguments()) throws -> Row? {
        try statement.database.rows(statement.sql, arguments).first
    }

    /// The rows one at a time, as GRDB's cursors give them (here they arrive whole).
    static func fetchCursor(_ statement: Statement, arguments: StatementArguments = StatementArguments()) throws -> RowCursor {
        RowCursor(try statement.database.rows(statement.sql, arguments))
    }
}

/// GRDB's `RowCursor`, over rows already read.
final class RowCursor {
    private var iterator: IndexingIterator<[Row]>

    init(_ rows: [Row]) { iterator = rows.makeIterator() }

    func next() throws -> Row? { iterator.next() }
}

// MARK: Values

extension PostgresCell {
    var isNull: Bool { bytes == nil }

    /// The cell as an integer, whatever integer, boolean, float or numeric type it has (a
    /// `SUM` of `BIGINT`s is `NUMERIC`).
    var integer: Int64? {
        guard !isNull else { return nil }
        switch dataType {
        case .int2, .int4, .int8: return try? decode(Int64.self)
        case .bool: return (try? decode(Bool.self)).map { $0 ? 1 : 0 }
        case .float4, .float8: return (try? decode(Double.self)).map { Int64($0) }
        case .numeric: return (try? decode(Decimal.self)).map { NSDecimalNumber(decimal: $0).int64Value }
        default: return (try? decode(String.self)).flatMap { Int64($0) }
        }
    }
}

extension Int64: DatabaseValueConvertible {
    func bind(into bindings: inout PostgresBindings) { bindings.append(self) }
    static func decode(_ cell: PostgresCell) -> Int64? { cell.integer }
}

extension Int: DatabaseValueConvertible {
    func bind(into bindings: inout PostgresBindings) { bindings.append(Int64(self)) }
    static func decode(_ cell: PostgresCell) -> Int? { cell.integer.map { Int($0) } }
}

extension Int32: DatabaseValueConvertible {
    func bind(into bindings: inout PostgresBindings) { bindings.append(Int64(self)) }
    static func decode(_ cell: PostgresCell) -> Int32? { cell.integer.map { Int32(truncatingIfNeeded: $0) } }
}

extension Bool: DatabaseValueConvertible {
    /// Stored as 0 or 1 in `BIGINT` columns, as in SQLite.
    func bind(into bindings: inout PostgresBindings) { bindings.append(Int64(self ? 1 : 0)) }
    static func decode(_ cell: PostgresCell) -> Bool? { cell.integer.map { $0 != 0 } }
}

extension Double: DatabaseValueConvertible {
    func bind(into bindings: inout PostgresBindings) { bindings.append(self) }
    static func decode(_ cell: PostgresCell) -> Double? {
        guard !cell.isNull else { return nil }
        switch cell.dataType {
        case .float4, .float8: return try? cell.decode(Double.self)
        case .int2, .int4, .int8, .bool: return cell.integer.map(Double.init)
        case .numeric: return (try? cell.decode(Decimal.self)).map { NSDecimalNumber(decimal: $0).doubleValue }
        default: return (try? cell.decode(String.self)).flatMap(Double.init)
        }
    }
}

extension String: DatabaseValueConvertible {
    func bind(into bindings: inout PostgresBindings) { bindings.append(self) }
    static func decode(_ cell: PostgresCell) -> String? {
        guard !cell.isNull else { return nil }
        switch cell.dataType {
        case .text, .varchar, .bpchar, .name: return try? cell.decode(String.self)
        case .int2, .int4, .int8, .bool: return cell.integer.map { String($0) }
        case .float4, .float8: return (try? cell.decode(Double.self)).map { String($0) }
        case .bytea: return (try? cell.decode(Data.self)).map { String(decoding: $0, as: UTF8.self) }
        default: return try? cell.decode(String.self)
        }
    }
}

extension Data: DatabaseValueConvertible {
    func bind(into bindings: inout PostgresBindings) { bindings.append(ByteBuffer(bytes: self)) }
    static func decode(_ cell: PostgresCell) -> Data? {
        guard !cell.isNull else { return nil }
        if cell.dataType == .bytea { return try? cell.decode(Data.self) }
        return (try? cell.decode(String.self)).map { Data($0.utf8) }
    }
}

// MARK: SQL text

enum SQLText {
    /// `sql` with each `?` placeholder outside quotes numbered (`$1`, `$2`, …), as PostgreSQL
    /// expects.
    static func numbered(_ sql: String) -> String {
        guard sql.contains("?") else { return sql }
        var out = String.UnicodeScalarView()
        var n = 0
        var quote: Unicode.Scalar?
        for c in sql.unicodeScalars {
            if let q = quote {
                if c == q { quote = nil }
                out.append(c)
            } else if c == "'" || c == "\"" {
                quote = c
                out.append(c)
            } else if c == "?" {
                n += 1
                out.append(contentsOf: "$\(n)".unicodeScalars)
            } else {
                out.append(c)
            }
        }
        return String(out)
    }
}

extension DriveRows {
    /// The drive rows of `statement`, read by column index (the GRDB build reads them straight
    /// from SQLite; here they are the rows postgres-nio decoded).
    static func columns(_ statement: Statement, _ arguments: StatementArguments) throws -> RowCursor {
        try Row.fetchCursor(statement, arguments: arguments)
    }
}
