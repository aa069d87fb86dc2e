import AdminProtocol
import P2PCore

/// How many messages the servers relayed: what direct tunnels must keep off them.
public enum RelayCounters {
    public struct Unanswered: Error, CustomStringConvertible {
        public let description: String
    }

    /// The messages every server at `addresses` accepted into mailboxes since it started, summed.
    public static func relayedMessages(at addresses: [String], adminSecret: String) async throws -> UInt64 {
        var total: UInt64 = 0
        for address in addresses {
            guard let target = HostPort(address) else { throw Unanswered(description: "malformed address \(address)") }
            let admin = try await AdminClient.connect(to: target, adminSecret: adminSecret)
            defer { admin.close() }
            guard case .serverStatus(let status) = try await admin.request(.serverStatus, timeout: .seconds(10)) else {
                throw Unanswered(description: "\(address) did not report its status")
            }
            total += status.relayedMessages
        }
        return total
    }
}
