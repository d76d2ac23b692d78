import DriveModel

/// JSON columns.
enum Codec {
    static func encode(_ strings: [String]) -> String {
        JSONValue.array(strings.map(JSONValue.string)).jsonString
    }

    static func encode(_ map: [String: String]) -> String {
        JSONValue.object(map.mapValues(JSONValue.string)).jsonString
    }

    static func decode(_ text: String) -> JSONValue? {
        try? JSONParser.parse(text)
    }

    static func decodeStrings(_ text: String) -> [String] {
        if text == "[]" { return [] }
        return decode(text)?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    static func decodeStringMap(_ text: String) -> [String: String] {
        if text == "{}" { return [:] }
        return decode(text)?.objectValue?.compactMapValues(\.stringValue) ?? [:]
    }

    static func decodeObject(_ text: String) -> [String: JSONValue] {
        decode(text)?.objectValue ?? [:]
    }
}
