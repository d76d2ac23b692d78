/// Drives written straight to JSON bytes, in the canonical form of `JSONValue.jsonBytes` (keys
/// sorted, `", "` and `": "` separators), without building a dictionary per object and sorting its
/// keys on every answer. The one renderer of drives: `detailJSON` and `shortJSON` read its text
/// back, and a test holds the text to that canonical form.
public struct JSONWriter {
    public var bytes: [UInt8]

    public init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inline(__always) mutating func raw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always) mutating func string(_ s: String) { JSONValue.writeString(s, into: &bytes) }

    @inline(__always) mutating func int(_ i: Int64) {
        if i >= 0 && i < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(i))
        } else {
            bytes.append(contentsOf: String(i).utf8)
        }
    }

    @inline(__always) mutating func bool(_ b: Bool) { b ? raw("true") : raw("false") }

    mutating func value(_ v: JSONValue) { v.write(into: &bytes) }

    /// `{"resource_uri": "/api/2.0/<collection>/<uuid>/", "uuid": "<uuid>"}`
    mutating func reference(_ collection: StaticString, _ uuid: String) {
        raw("{\"resource_uri\": \"/api/2.0/")
        raw(collection)
        raw("/")
        JSONValue.writeStringBody(uuid, into: &bytes)
        raw("/\", \"uuid\": ")
        string(uuid)
        raw("}")
    }

    mutating func references(_ collection: StaticString, _ uuids: [String]) {
        raw("[")
        for (i, uuid) in uuids.enumerated() {
            if i > 0 { raw(", ") }
            reference(collection, uuid)
        }
        raw("]")
    }

    /// `{"limit": .., "offset": .., "total_count": ..}` envelope around objects written by `body`.
    public mutating func listPage(limit: Int, offset: Int, totalCount: Int, body: (inout JSONWriter) -> Void) {
        raw("{\"meta\": {\"limit\": ")
        int(Int64(limit))
        raw(", \"offset\": ")
        int(Int64(offset))
        raw(", \"total_count\": ")
        int(Int64(totalCount))
        raw("}, \"objects\": [")
        body(&self)
        raw("]}")
    }

    /// `{"objects": [...]}` around objects written by `body`.
    public mutating func objectsEnvelope(body: (inout JSONWriter) -> Void) {
        raw("{\"objects\": [")
        body(&self)
        raw("]}")
    }

    /// `drives`, comma-separated, each in full (`detail`) or in the short list form.
    public mutating func drives(_ drives: [Drive], detail: Bool = true) {
        for (i, drive) in drives.enumerated() {
            if i > 0 { raw(", ") }
            detail ? drive.writeDetail(into: &self) : drive.writeShort(into: &self)
        }
    }
}

extension Drive {
    /// Appends the full definition (reference §3.3).
    public func writeDetail(into w: inout JSONWriter) {
        w.raw("{\"affinities\": [")
        for (i, a) in affinities.enumerated() {
            if i > 0 { w.raw(", ") }
            w.string(a)
        }
        w.raw("], \"allow_multimount\": ")
        w.bool(allowMultimount)
        w.raw(", \"backup_scheduler\": null, \"grantees\": [], \"iops\": ")
        if let iops { w.int(iops) } else { w.raw("null") }
        w.raw(", \"jobs\": ")
        w.references("jobs", jobs)
        w.raw(", \"licenses\": [")
        for (i, license) in licenses.enumerated() {
            if i > 0 { w.raw(", ") }
            w.value(license.json)
        }
        w.raw("], \"media\": ")
        w.string(media.rawValue)
        w.raw(", \"meta\": {")
        if meta.count == 1, let entry = meta.first {
            w.string(entry.key)
            w.raw(": ")
            w.string(entry.value)
        } else if !meta.isEmpty {
            for (i, key) in meta.keys.sorted().enumerated() {
                if i > 0 { w.raw(", ") }
                w.string(key)
                w.raw(": ")
                w.string(meta[key]!)
            }
        }
        w.raw("}, \"mounted_on\": ")
        w.references("servers", mountedOn)
        w.raw(", \"name\": ")
        w.string(name)
        w.raw(", \"owner\": ")
        if let owner { w.reference("user", owner) } else { w.raw("null") }
        w.raw(", \"permissions\": [], \"remote_snapshots\": [], \"resource_uri\": \"/api/2.0/drives/")
        JSONValue.writeStringBody(uuid, into: &w.bytes)
        w.raw("/\", \"runtime\": {\"is_downloadable\": ")
        let ephemeral = isEphemeral
        w.bool(!ephemeral)
        w.raw(", \"is_ephemeral\": ")
        w.bool(ephemeral)
        w.raw(", \"is_snapshotable\": ")
        if let snapshotable = isSnapshotable { w.bool(snapshotable) } else { w.raw("null") }
        w.raw(", \"snapshots_allocated_size\": 0, \"storage_type\": ")
        w.string(storageType)
        w.raw("}, \"size\": ")
        w.int(size)
        w.raw(", \"snapshots\": ")
        w.references("snapshots", snapshots)
        w.raw(", \"status\": ")
        w.string(status.rawValue)
        w.raw(", \"storage_type\": ")
        w.string(storageType)
        w.raw(", \"tags\": ")
        w.references("tags", tags)
        w.raw(", \"uuid\": ")
        w.string(uuid)
        w.raw("}")
    }

    /// Appends the short list form.
    public func writeShort(into w: inout JSONWriter) {
        w.raw("{\"owner\": ")
        if let owner { w.reference("user", owner) } else { w.raw("null") }
        w.raw(", \"resource_uri\": \"/api/2.0/drives/")
        JSONValue.writeStringBody(uuid, into: &w.bytes)
        w.raw("/\", \"status\": ")
        w.string(status.rawValue)
        w.raw(", \"uuid\": ")
        w.string(uuid)
        w.raw("}")
    }

    /// The full definition's text.
    public var detailJSONBytes: [UInt8] {
        var w = JSONWriter()
        writeDetail(into: &w)
        return w.bytes
    }
}
