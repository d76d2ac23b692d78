import Foundation
import DriveModel
import DriveStorage

/// Turns server JSON into validated definitions (reference §6.1).
struct ServerInput {
    let drives: DriveInput

    /// Keys a server echoes back as given (with their JSON types checked loosely).
    static let passthrough: [String: String] = [
        "smp": "number", "nics": "list", "cpu_type": "string", "hypervisor": "string", "context": "boolean",
        "cpus_instead_of_cores": "boolean", "enable_numa": "boolean", "hv_relaxed": "boolean", "hv_tsc": "boolean",
        "pubkeys": "list", "requirements": "list", "cpu_model": "string",
    ]

    /// Device → (controllers, units per controller): ide `0:0`–`1:1`, virtio 6 units per controller
    /// up to 1024 drives, scsi 7 units on 4 controllers.
    static let channelLimits: [String: (controllers: Int, units: Int)] = [
        "ide": (2, 2), "virtio": (171, 6), "scsi": (4, 7),
    ]

    func spec(_ value: JSONValue) throws -> ServerSpec {
        guard case .object(let o) = value else {
            throw CloudSigmaError.validation(nil, "Expected a server object, got \(value.typeName)")
        }
        let name = try drives.required(o, "name", drives.string)
        let cpu = try drives.required(o, "cpu", integer)
        let mem = try drives.required(o, "mem", integer)
        let vnc = try drives.required(o, "vnc_password", drives.string)
        guard (250...96000).contains(cpu) else { throw CloudSigmaError.validation("cpu", "cpu must be between 250 and 96000 MHz") }
        guard (268_435_456...558_345_748_480).contains(mem) else {
            throw CloudSigmaError.validation("mem", "mem must be between 268435456 and 558345748480 bytes")
        }
        var extra: [String: JSONValue] = [:]
        for (key, type) in Self.passthrough {
            guard let v = o[key] else { continue }
            if !v.isNull && v.typeName != type {
                throw CloudSigmaError.validation(key, "\(key) must be a \(type), got \(v.typeName)")
            }
            extra[key] = key == "nics" ? try nics(v) : v
        }
        return ServerSpec(
            name: name, cpu: cpu, mem: mem, vncPassword: vnc,
            meta: try drives.optional(o, "meta", drives.meta),
            extra: extra,
            drives: try drives.optional(o, "drives", mounts),
            tags: try drives.optional(o, "tags", drives.tags))
    }

    /// NICs as the real API renders them: every key present (`ip_v4_conf.ip`, `mac`, `model`,
    /// `runtime`, `vlan`), a MAC address generated when none is given (libcloud and cscli read
    /// them all).
    func nics(_ value: JSONValue) throws -> JSONValue {
        guard case .array(let items) = value else { return value }
        return .array(
            try items.enumerated().map { index, item in
                guard case .object(var nic) = item else {
                    throw CloudSigmaError.validation("nics", "nics[\(index)] must be an object")
                }
                if case .object(var v4)? = nic["ip_v4_conf"] {
                    v4["ip"] = try reference(v4["ip"], collection: "ips", key: "nics[\(index)].ip_v4_conf.ip")
                    nic["ip_v4_conf"] = .object(v4)
                } else if nic["ip_v4_conf"] == nil {
                    nic["ip_v4_conf"] = .null
                }
                nic["vlan"] = try reference(nic["vlan"], collection: "vlans", key: "nics[\(index)].vlan")
                for key in ["boot_order", "ip_v6_conf", "runtime", "vlan", "firewall_policy"] where nic[key] == nil {
                    nic[key] = .null
                }
                if nic["model"] == nil || nic["model"] == .null { nic["model"] = .string("virtio") }
                if nic["mac"] == nil || nic["mac"] == .null {
                    let bytes = (0..<4).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }
                    nic["mac"] = .string((["22", "20"] + bytes).joined(separator: ":"))
                }
                return .object(nic)
            })
    }

    /// A NIC's IP or VLAN given as an id, a URI or an object with `uuid`, rendered as the real
    /// API renders it: `{"resource_uri", "uuid"}` (null stays null). The store checks that it is
    /// the caller's.
    func reference(_ value: JSONValue?, collection: String, key: String) throws -> JSONValue {
        guard let value, !value.isNull else { return .null }
        guard let id = APIPath.relatedID(value, collection: collection), !id.isEmpty else {
            throw CloudSigmaError.validation(key, "\(key) must be a \(collection == "ips" ? "IP" : "VLAN") (uuid, URI or object)")
        }
        return APIPath.reference(collection, id)
    }

    func integer(_ value: JSONValue, _ key: String) throws -> Int64 {
        guard let i = value.lenientInteger else { throw CloudSigmaError.validation(key, "\(key) must be an integer") }
        return i
    }

    /// `drives: [{boot_order, dev_channel, device, drive}]`.
    func mounts(_ value: JSONValue, _ key: String) throws -> [MountRequest] {
        guard case .array(let items) = value else {
            throw CloudSigmaError.validation(key, "drives must be a list, got \(value.typeName)")
        }
        return try items.enumerated().map { index, item in
            guard case .object(let o) = item else {
                throw CloudSigmaError.validation(key, "drives[\(index)] must be an object")
            }
            guard case .string(let device)? = o["device"], let limits = Self.channelLimits[device] else {
                throw CloudSigmaError.validation(key, "drives[\(index)].device must be one of: ide, virtio, scsi")
            }
            guard case .string(let channel)? = o["dev_channel"] else {
                throw CloudSigmaError.validation(key, "drives[\(index)].dev_channel is required (\"controller:unit\")")
            }
            let parts = channel.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let controller = Int(parts[0]), let unit = Int(parts[1]),
                controller >= 0, unit >= 0, controller < limits.controllers, unit < limits.units
            else {
                throw CloudSigmaError.validation(
                    key, "drives[\(index)].dev_channel \"\(channel)\" is not a valid \(device) channel (0:0 to \(limits.controllers - 1):\(limits.units - 1))")
            }
            guard let ref = o["drive"], let drive = APIPath.relatedID(ref, collection: "drives") else {
                throw CloudSigmaError.validation(key, "drives[\(index)].drive is required (uuid, URI or object)")
            }
            var bootOrder: Int64?
            if let b = o["boot_order"], !b.isNull {
                guard let n = b.lenientInteger else { throw CloudSigmaError.validation(key, "drives[\(index)].boot_order must be an integer") }
                bootOrder = n
            }
            return MountRequest(bootOrder: bootOrder, devChannel: channel, device: device, driveUUID: drive)
        }
    }
}
