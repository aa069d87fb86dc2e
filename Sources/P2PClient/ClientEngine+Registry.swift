import ClientProtocol
import Delivery
import MessageModel
import P2PCore
import Transport

extension ClientEngine {
    func query(_ query: ClientRequest.Query) async throws -> QueryResult {
        for link in connections.links.shuffled() {
            if let result = await ask(query, on: link) {
                if case .unavailable = result { continue }
                return result
            }
        }
        throw SendError.noReachableServer
    }

    /// One server's answer to `query`, or `nil` if it gave none in time.
    private func ask(_ query: ClientRequest.Query, on link: Link) async -> QueryResult? {
        guard case .queryResult(_, let result)? = await exchange(on: link, { .query(request: $0, query) }) else { return nil }
        return result
    }

    /// Sends the request `build` makes with a fresh request number and returns the server's
    /// answer to it, or `nil` if none came within `attemptTimeout`.
    private func exchange(on link: Link, _ build: (UInt64) -> ClientRequest) async -> ServerPush? {
        let request = replies.nextRequest()
        let bytes = build(request).encoded()
        return try? await replies.wait(for: request, timeout: configuration.attemptTimeout, origin: link.peer.id) {
            try link.send(type: ClientProtocol.requestFrame, bytes)
        }
    }

    /// The recipient's registry entry; `nil` only when every connected server that answers
    /// says it does not exist. Servers deny a client only after a read barrier (a lagging replica
    /// answers `.unavailable`); asking every server also covers one partitioned with a stale leader.
    func record(of recipient: NodeID) async throws -> ClientRecord? {
        if let known = registry[recipient] { return known }
        var answered = false
        for link in connections.links.shuffled() {
            guard case .client(let record)? = await ask(.client(recipient), on: link) else { continue }
            answered = true
            if let record {
                registry.learn(record)
                feed(.recipientServers(recipient, record.attachedServers))
                return record
            }
        }
        guard answered else { throw SendError.noReachableServer }
        return nil
    }

    /// Asks a connected server to introduce this client to `peer`.
    func introduce(_ peer: NodeID, tcp: [String], udp: [String]) async -> Introduction? {
        guard let link = serverForRequests else { return nil }
        let tcp = Self.capped(tcp)
        let udp = Self.capped(udp)
        guard case .connectResult(_, let introduction)? = await exchange(on: link, { .connect(request: $0, peer: peer, tcp: tcp, udp: udp) }) else {
            return nil
        }
        return introduction
    }

    /// At most ``ClientRecord/Limits/maximumCandidates`` valid candidates, keeping the last one
    /// (the public mapping, when there is one) over the LAN addresses before it.
    private static func capped(_ candidates: [String]) -> [String] {
        let valid = candidates.filter(ClientRecord.isAddress)
        let limit = ClientRecord.Limits.maximumCandidates
        guard valid.count > limit, let last = valid.last else { return valid }
        return Array(valid.prefix(limit - 1)) + [last]
    }

    /// The registered identity key of `peer`, to check who is at the other end of a direct link.
    func publicKey(of peer: NodeID) async -> [UInt8]? {
        (try? await record(of: peer))?.publicKey
    }
}
