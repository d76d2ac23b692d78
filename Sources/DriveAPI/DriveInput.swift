import DriveLifecycle
import DriveModel
import DriveStorage

/// Turns request JSON into validated drive definitions, with CloudSigma `400 validation` errors
/// that name the field. Readonly keys that clients send back (`owner`, `status`, `runtime`, ...)
/// are ignored, never rejected.
struct DriveInput {
    let catalogue: StorageCatalogue

    static let affinityChoices: Set<String> = ["ssd"]
    static let maxMetaKeyLength = 32

    /// The objects of a create or bulk body: `{"objects": [...]}`, a bare list, or a bare object.
    static func objects(of body: JSONValue?) throws -> [JSONValue] {
        guard let body else { throw CloudSigmaError.validation("objects", "The request body is empty") }
        switch body {
        case .array(let items):
            return items
        case .object(let object):
            if let wrapped = object["objects"] {
                guard case .array(let items) = wrapped else {
                    throw CloudSigmaError.validation("objects", "objects must be a list")
                }
                return items
            }
            return [body]
        default:
            throw CloudSigmaError.validation(nil, "Expected an object or a list of objects, got \(body.typeName)")
        }
    }

    /// - Parameter upload: the drive of an upload (`/initupload/`): any size from one byte to the
    ///   type's maximum, kept exactly.
    func spec(_ value: JSONValue, upload: Bool = false) throws -> DriveSpec {
        guard case .object(let o) = value else {
            throw CloudSigmaError.validation(nil, "Expected a drive object, got \(value.typeName)")
        }
        let name = try required(o, "name", string)
        let size = try required(o, "size", size)
        let media = try required(o, "media", media)
        let storageType = try storageType(o["storage_type"]) ?? catalogue.defaultType
        let limits = try DriveRules.limits(storageType, in: catalogue)
        if upload {
            try DriveRules.checkUpload(size: size, limits: limits)
        } else {
            try DriveRules.check(size: size, limits: limits)
        }
        return DriveSpec(
            name: name,
            size: size,
            media: media,
            storageType: storageType,
            allowMultimount: try optional(o, "allow_multimount", bool) ?? false,
            affinities: try optional(o, "affinities", affinities) ?? [],
            meta: try optional(o, "meta", meta) ?? [:],
            iops: try iops(o["iops"], limits: limits) ?? nil,
            licenses: try optional(o, "licenses", licenses) ?? [],
            tags: try optional(o, "tags", tags) ?? [])
    }

    /// A PUT or resize body. `uuid` comes from the path, or from the object in a bulk update.
    func changes(_ value: JSONValue, uuid: String?) throws -> DriveChanges {
        guard case .object(let o) = value else {
            throw CloudSigmaError.validation(nil, "Expected a drive object, got \(value.typeName)")
        }
        let target: String
        if let uuid {
            target = uuid
        } else {
            guard let given = o["uuid"].flatMap({ APIPath.relatedID($0, collection: "drives") }) else {
                throw CloudSigmaError.validation("uuid", "Each object of a bulk update needs its uuid")
            }
            target = given
        }
        let name = try required(o, "name", string)
        let size = try required(o, "size", size)
        let media = try required(o, "media", media)
        let storageType = try storageType(o["storage_type"])
        if let type = storageType {
            // The maximum only: the minimum is the drive's own size (no shrinking, checked
            // against the stored drive), and a drive still uploading may be below the type's
            // minimum (pycloudsigma PUTs the whole definition back to rename it).
            try DriveRules.checkUpload(size: size, limits: try DriveRules.limits(type, in: catalogue))
        } else if size <= 0 {
            throw CloudSigmaError.validation("size", "size must be positive")
        }
        return DriveChanges(
            uuid: target,
            name: name,
            size: size,
            media: media,
            storageType: storageType,
            allowMultimount: try optional(o, "allow_multimount", bool),
            affinities: try optional(o, "affinities", affinities),
            meta: try optional(o, "meta", meta),
            iops: try o["iops"].map { try iops($0, limits: storageType.flatMap(catalogue.limits)) ?? nil },
            licenses: try optional(o, "licenses", licenses),
            tags: try optional(o, "tags", tags))
    }

    /// A clone body: absent, `{}`, or any of `name`, `media`, `affinities`, `size`,
    /// `storage_type`; other keys (the Python client sends whole definitions) are ignored.
    func cloneRequest(_ value: JSONValue?) throws -> CloneRequest {
        guard let value, !value.isNull else { return CloneRequest() }
        guard case .object(let o) = value else {
            throw CloudSigmaError.validation(nil, "Expected a clone definition object, got \(value.typeName)")
        }
        return CloneRequest(
            name: try optional(o, "name", string),
            media: try optional(o, "media", media),
            affinities: try optional(o, "affinities", affinities),
            size: try optional(o, "size", size),
            storageType: try storageType(o["storage_type"]))
    }

    // MARK: Fields

    func required<T>(_ o: [String: JSONValue], _ key: String, _ parse: (JSONValue, String) throws -> T) throws -> T {
        guard let value = o[key], !value.isNull else {
            throw CloudSigmaError.validation(key, "This field is required")
        }
        return try parse(value, key)
    }

    func optional<T>(_ o: [String: JSONValue], _ key: String, _ parse: (JSONValue, String) throws -> T) throws -> T? {
        guard let value = o[key], !value.isNull else { return nil }
        return try parse(value, key)
    }

    func string(_ value: JSONValue, _ key: String) throws -> String {
        guard case .string(let s) = value else {
            throw CloudSigmaError.validation(key, "\(key) must be a string, got \(value.typeName)")
        }
        if s.utf8.contains(0) {
            throw CloudSigmaError.validation(key, "\(key) must not contain NUL characters")
        }
        return s
    }

    func bool(_ value: JSONValue, _ key: String) throws -> Bool {
        guard case .bool(let b) = value else {
            throw CloudSigmaError.validation(key, "\(key) must be a boolean, got \(value.typeName)")
        }
        return b
    }

    /// An integer byte count: a JSON integer, an integral float, or a numeric string.
    func size(_ value: JSONValue, _ key: String) throws -> Int64 {
        guard let parsed = value.lenientInteger else {
            throw CloudSigmaError.validation(key, "\(key) must be an integer number of bytes")
        }
        guard parsed > 0 else { throw CloudSigmaError.validation(key, "\(key) must be positive") }
        return parsed
    }

    func media(_ value: JSONValue, _ key: String) throws -> DriveMedia {
        guard case .string(let s) = value, let media = DriveMedia(rawValue: s) else {
            throw CloudSigmaError.validation(key, "Select a valid choice. \(value.jsonString) is not one of the available choices: disk, cdrom")
        }
        return media
    }

    func storageType(_ value: JSONValue?) throws -> String? {
        guard let value, !value.isNull else { return nil }
        guard case .string(let s) = value else {
            throw CloudSigmaError.validation("storage_type", "storage_type must be a string, got \(value.typeName)")
        }
        guard StorageCatalogue.schemaChoices.contains(s) else {
            throw CloudSigmaError.validation(
                "storage_type",
                "Select a valid choice. \(s) is not one of the available choices: \(StorageCatalogue.schemaChoices.joined(separator: ", "))")
        }
        guard catalogue.limits(s) != nil else {
            throw CloudSigmaError.validation("storage_type", "Storage type \(s) is not offered here")
        }
        return s
    }

    func affinities(_ value: JSONValue, _ key: String) throws -> [String] {
        guard case .array(let items) = value else {
            throw CloudSigmaError.validation(key, "affinities must be a list, got \(value.typeName)")
        }
        return try items.map { item in
            guard case .string(let s) = item, Self.affinityChoices.contains(s) else {
                throw CloudSigmaError.validation(key, "Select a valid choice. \(item.jsonString) is not one of the available choices: ssd")
            }
            return s
        }
    }

    /// `meta`: a dict of strings with keys of at most 32 characters (reference §1.10).
    func meta(_ value: JSONValue, _ key: String) throws -> [String: String] {
        guard case .object(let o) = value else {
            throw CloudSigmaError.validation(key, "meta must be a dict, got \(value.typeName)")
        }
        var out: [String: String] = [:]
        for (k, v) in o {
            guard k.count <= Self.maxMetaKeyLength else {
                throw CloudSigmaError.validation(key, "meta key \"\(k.prefix(40))\" is longer than \(Self.maxMetaKeyLength) characters")
            }
            guard !k.isEmpty, !k.utf8.contains(0) else {
                throw CloudSigmaError.validation(key, "meta keys must be non-empty and free of NUL characters")
            }
            guard case .string(let s) = v else {
                throw CloudSigmaError.validation(key, "meta value of \"\(k)\" must be a string, got \(v.typeName)")
            }
            out[k] = s
        }
        return out
    }

    /// `iops`: null, or an integer within the type's range (when the type is known).
    func iops(_ value: JSONValue?, limits: StorageTypeLimits?) throws -> Int64?? {
        guard let value else { return nil }
        if value.isNull { return .some(nil) }
        guard let i = value.lenientInteger else {
            throw CloudSigmaError.validation("iops", "iops must be an integer or null, got \(value.typeName)")
        }
        if let limits, i < limits.iopsMin || i > limits.iopsMax {
            throw CloudSigmaError.validation(
                "iops", "iops must be between \(limits.iopsMin) and \(limits.iopsMax) for storage type \(limits.name)")
        }
        return .some(i)
    }

    /// `licenses: [{"amount", "license": uri|id|object}]`.
    func licenses(_ value: JSONValue, _ key: String) throws -> [LicenseRequest] {
        guard case .array(let items) = value else {
            throw CloudSigmaError.validation(key, "licenses must be a list, got \(value.typeName)")
        }
        return try items.map { item in
            guard case .object(let o) = item, let ref = o["license"] else {
                throw CloudSigmaError.validation(key, "Each license needs a \"license\" (id, URI or object)")
            }
            guard let idText = APIPath.relatedID(ref, collection: "licenses", idKey: "id"), let id = Int64(idText) else {
                throw CloudSigmaError.validation(key, "Not a license reference: \(ref.jsonString.prefix(100))")
            }
            var amount: Int64 = 1
            if let a = o["amount"], !a.isNull {
                guard let n = a.lenientInteger, n > 0, n <= 1_000_000 else {
                    throw CloudSigmaError.validation(key, "License amount must be a positive integer")
                }
                amount = n
            }
            return LicenseRequest(licenseID: id, amount: amount)
        }
    }

    /// A list of related resources given as uuids, URIs or objects (reference §1.9): their ids.
    func references(_ value: JSONValue, _ key: String, collection: String) throws -> [String] {
        guard case .array(let items) = value else {
            throw CloudSigmaError.validation(key, "\(key) must be a list, got \(value.typeName)")
        }
        return try items.map { item in
            guard item.typeName == "string" || item.typeName == "dict",
                let id = APIPath.relatedID(item, collection: collection), !id.isEmpty
            else {
                throw CloudSigmaError.validation(key, "Not a reference: \(item.jsonString.prefix(100))")
            }
            return id
        }
    }

    /// `tags` on a drive or server: uuids, `/api/2.0/tags/<uuid>/` URIs or objects.
    func tags(_ value: JSONValue, _ key: String) throws -> [String] {
        try references(value, key, collection: "tags")
    }
}
