import P2PCore
import Synchronization
import Transport

/// The clients linked to this server right now, by client id.
final class ClientSessions: Sendable {
    private let sessions = Mutex<[NodeID: [ClientSession]]>([:])

    /// Links one client may hold to one server at once.
    static let maximumPerClient = 8

    /// Adds `session`; `false` (not added) when its client already holds ``maximumPerClient``.
    func add(_ session: ClientSession) -> Bool {
        sessions.withLock { sessions in
            guard sessions[session.client, default: []].count < Self.maximumPerClient else { return false }
            sessions[session.client, default: []].append(session)
            return true
        }
    }

    /// Removes `session`; returns whether the client has no other session here.
    func remove(_ session: ClientSession) -> Bool {
        sessions.withLock { sessions in
            sessions[session.client]?.removeAll { $0 === session }
            guard sessions[session.client]?.isEmpty ?? true else { return false }
            sessions[session.client] = nil
            return true
        }
    }

    func sessions(of client: NodeID) -> [ClientSession] { sessions.withLock { $0[client] ?? [] } }
    var all: [ClientSession] { sessions.withLock { $0.values.flatMap { $0 } } }

    func closeAll() {
        for session in all { session.link.close() }
    }
}
