import DriveModel
import DriveStorage
import Foundation
import PostgresNIO

extension PostgresStore {
    /// Records how many IPs and VLANs each account holds and tops every account up to it, as
    /// the SQLite store's `allot` does (accounts never lose resources when the numbers go down).
    public func allotNetworks(ips: Int, vlans: Int) async throws {
        try await transaction { tx in
            // The allotment row serializes processes that start together.
            try await tx.run(
                """
                INSERT INTO network_allotment (id, ips, vlans) VALUES (1, \(max(0, ips)), \(max(0, vlans)))
                ON CONFLICT (id) DO UPDATE SET ips = excluded.ips, vlans = excluded.vlans
                """)
            let owners = try await tx.rows("SELECT uuid FROM users ORDER BY rowid").map { try $0.decode(String.self) }
            for owner in owners {
                try await Self.topUpNetworks(tx, owner: owner)
            }
        }
    }

    /// Gives `owner` the IPs and VLANs it lacks to reach the allotment, inside `tx`.
    static func topUpNetworks(_ tx: PostgresTransaction, owner: String) async throws {
        // FOR UPDATE: two processes topping one account up wait for each other.
        guard let row = try await tx.rows("SELECT ips, vlans FROM network_allotment WHERE id = 1 FOR UPDATE").first
        else { return }
        let (wantIPs, wantVLANs) = try row.decode((Int, Int).self)
        let now = Timestamp.now()
        let haveIPs = try await tx.rows("SELECT count(*) FROM ips WHERE owner = \(owner)").first?.decode(Int.self) ?? 0
        for _ in 0..<max(0, wantIPs - haveIPs) {
            // The address follows from the row's seq, as in the SQLite store.
            guard
                let seq = try await tx.rows(
                    """
                    INSERT INTO ips (address, owner, netmask, gateway, created_at)
                    VALUES (\("pending-\(UUID().uuidString)"), \(owner), 0, '', \(now)) RETURNING seq
                    """
                ).first?.decode(Int64.self)
            else { continue }
            let allocation = NetworkAllocation.address(seq: seq)
            try await tx.run(
                """
                UPDATE ips SET address = \(allocation.address), netmask = \(allocation.netmask),
                    gateway = \(allocation.gateway), nameservers = \(JSONValue.array([.string(allocation.gateway)]).jsonString)
                WHERE seq = \(seq)
                """)
        }
        let haveVLANs = try await tx.rows("SELECT count(*) FROM vlans WHERE owner = \(owner)").first?.decode(Int.self) ?? 0
        for _ in 0..<max(0, wantVLANs - haveVLANs) {
            try await tx.run("INSERT INTO vlans (uuid, owner, created_at) VALUES (\(Identifiers.make()), \(owner), \(now))")
        }
    }
}
