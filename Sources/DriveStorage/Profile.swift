import DriveModel
import Foundation

/// How a clone is named when its request gives no `name` (reference §3.9.1): the profile's
/// `clone_naming`, applied to drive, library and snapshot clones.
public enum CloneNaming: String, CaseIterable, Sendable {
    /// The source's name unchanged: `test_drive_x` → `test_drive_x` (the schema's default).
    case none = "NONE"
    /// `_1` appended, or a trailing `_<n>` incremented: `test_drive_x` → `test_drive_x_1`.
    case counter = "COUNTER"
    /// The date appended: `test_drive_x` → `test_drive_x-2014-06-05`.
    case date = "DATE"
    /// The date and time appended: `test_drive_x` → `test_drive_x-2014-06-05 09:45:56`.
    case timestamp = "TIMESTAMP"

    /// The clone's name for a source named `source`, at `now` (UTC). When the name already ends
    /// in the current date (or timestamp), possibly followed by a counter, the strategy falls
    /// back to COUNTER without stripping the date (§3.9.1).
    public func name(for source: String, now: Date) -> String {
        switch self {
        case .none:
            return source
        case .counter:
            return Self.counted(source)
        case .date, .timestamp:
            let suffix = "-" + Self.stamp(now, time: self == .timestamp)
            if Self.endsWithCurrent(source, suffix: suffix) { return Self.counted(source) }
            return source + suffix
        }
    }

    /// `name_1`, or `name_<n+1>` for a name ending in `_<n>`.
    static func counted(_ name: String) -> String {
        if let underscore = name.lastIndex(of: "_") {
            let digits = name[name.index(after: underscore)...]
            if !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), let n = Int(digits), n < Int.max {
                return name[..<underscore] + "_" + String(n + 1)
            }
        }
        return name + "_1"
    }

    /// Whether `name` ends in `suffix`, or in `suffix` and a counter `_<n>`.
    static func endsWithCurrent(_ name: String, suffix: String) -> Bool {
        if name.hasSuffix(suffix) { return true }
        guard let underscore = name.lastIndex(of: "_") else { return false }
        let digits = name[name.index(after: underscore)...]
        return !digits.isEmpty && digits.allSatisfy(\.isASCIIDigit) && name[..<underscore].hasSuffix(suffix)
    }

    /// `2014-06-05`, or `2014-06-05 09:45:56` with `time`, in UTC.
    static func stamp(_ date: Date, time: Bool) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ n: Int?) -> String { let n = n ?? 0; return n < 10 ? "0\(n)" : "\(n)" }
        let day = "\(c.year ?? 1970)-\(two(c.month))-\(two(c.day))"
        return time ? "\(day) \(two(c.hour)):\(two(c.minute)):\(two(c.second))" : day
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// The account's profile (`/profile/`, reference §1 and the captured `[dump:*set_profile*]`):
/// `clone_naming` drives clone names; the other fields are stored and echoed (no billing, no
/// mail is simulated). `uuid`, `email`, `signup_time` and `state` come from the account.
public struct Profile: Sendable, Equatable {
    public var cloneNaming: CloneNaming
    /// The writable fields other than `clone_naming`, as last stored (defaults where never set).
    public var fields: [String: JSONValue]

    public init(cloneNaming: CloneNaming = .none, fields: [String: JSONValue] = [:]) {
        self.cloneNaming = cloneNaming
        self.fields = fields
    }

    /// The writable fields and their defaults, with the JSON type each accepts (the captured
    /// profile's values and types; `tax_name`/`tax_rate` may be null).
    public static let writable: [String: (default: JSONValue, kind: Kind)] = [
        "address": (.string(""), .string), "api_https_only": (.bool(false), .bool),
        "autotopup_amount": (.string("0"), .decimal), "autotopup_threshold": (.string("0"), .decimal),
        "bank_reference": (.string(""), .string), "company": (.string(""), .string), "country": (.string(""), .string),
        "currency": (.string("USD"), .string), "first_name": (.string(""), .string), "has_autotopup": (.bool(false), .bool),
        "invoicing": (.bool(false), .bool), "key_auth": (.bool(false), .bool), "language": (.string("en_US"), .string),
        "last_name": (.string(""), .string), "mailing_list": (.bool(false), .bool), "meta": (.object([:]), .object),
        "my_notes": (.string(""), .string), "nickname": (.string(""), .string), "phone": (.string(""), .string),
        "postcode": (.string(""), .string), "reseller": (.string(""), .string), "tax_name": (.null, .optionalString),
        "tax_rate": (.null, .optionalDecimal), "title": (.string(""), .string), "town": (.string(""), .string),
        "vat": (.string(""), .string),
    ]

    /// Fields a client may send back unchanged but not change (they are the account's).
    public static let readOnly: Set<String> = ["uuid", "email", "signup_time", "state"]

    public enum Kind: Sendable {
        case string, bool, object, decimal, optionalString, optionalDecimal
    }

    /// The profile's JSON for account `user` (keys in the captured answer's order: sorted).
    public func json(user: User) -> JSONValue {
        var object: [String: JSONValue] = [:]
        for (key, entry) in Self.writable { object[key] = fields[key] ?? entry.default }
        object["clone_naming"] = .string(cloneNaming.rawValue)
        object["uuid"] = .string(user.uuid)
        object["email"] = .string(user.email)
        object["signup_time"] = .string(user.createdAt)
        object["state"] = .string("REGULAR")
        return .object(object)
    }

    /// This profile with `body`'s fields applied (a PUT: fields left out keep their values).
    /// Throws a 400 validation error naming the first field of a wrong type or value, or a 403
    /// for a change to a read-only field; unknown keys are ignored, as the real API does with
    /// keys it does not know.
    public func updated(with body: [String: JSONValue], user: User) throws -> Profile {
        var next = self
        let current = json(user: user).objectValue ?? [:]
        for (key, value) in body.sorted(by: { $0.key < $1.key }) {
            if key == "clone_naming" {
                guard case .string(let raw) = value, let naming = CloneNaming(rawValue: raw) else {
                    throw CloudSigmaError.validation(
                        "clone_naming", "clone_naming must be one of \(CloneNaming.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                next.cloneNaming = naming
            } else if Self.readOnly.contains(key) {
                if value != current[key] {
                    throw CloudSigmaError.permission("\(key) of the profile cannot be changed")
                }
            } else if let entry = Self.writable[key] {
                guard let accepted = Self.accept(value, as: entry.kind) else {
                    throw CloudSigmaError.validation(key, "\(key) has the wrong type (\(Self.describe(entry.kind)) expected)")
                }
                next.fields[key] = accepted
            }
        }
        return next
    }

    static func accept(_ value: JSONValue, as kind: Kind) -> JSONValue? {
        switch (kind, value) {
        case (.string, .string), (.bool, .bool), (.object, .object): return value
        case (.optionalString, .string), (.optionalString, .null), (.optionalDecimal, .null): return value
        case (.decimal, .string(let text)), (.optionalDecimal, .string(let text)):
            return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) != nil
                && text.allSatisfy({ $0.isASCIIDigit || ".-+eE".contains($0) }) ? value : nil
        case (.decimal, .int(let n)), (.optionalDecimal, .int(let n)): return .string(String(n))
        case (.decimal, .double(let d)), (.optionalDecimal, .double(let d)): return d.isFinite ? .string(String(d)) : nil
        default: return nil
        }
    }

    static func describe(_ kind: Kind) -> String {
        switch kind {
        case .string: "a string"
        case .bool: "true or false"
        case .object: "an object"
        case .decimal: "a decimal number"
        case .optionalString: "a string or null"
        case .optionalDecimal: "a decimal number or null"
        }
    }
}
