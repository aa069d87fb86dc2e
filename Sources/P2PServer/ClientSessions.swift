import P2PCore
import Synchronization
import Transport

/// The clients linked to this server right now, by client id, and those of their sessions that
/// need the gateway's periodic tick (pushes in flight): only those are visited, so idle
/// sessions cost no time however many there are.
final class ClientSessions: Sendable {
    private struct State {
        var byClient: [NodeID: [ClientSession]] = [:]
        var ticking: [ObjectIdentifier: ClientSession] = [:]
    }

    private let state = Mutex(State())

    /// Links one client may hold to one server at once.
    static let maximumPerClient = 8

    /// Adds `session`; `false` (not added) when its client already holds ``maximumPerClient``.
    func add(_ session: ClientSession) -> Bool {
        state.withLock { state in
            guard state.byClient[session.client, default: []].count < Self.maximumPerClient else { return false }
            state.byClient[session.client, default: []].append(session)
            return true
        }
    }

    /// Removes `session`; returns whether the client has no other session here.
    func remove(_ session: ClientSession) -> Bool {
        state.withLock { state in
            state.ticking[ObjectIdentifier(session)] = nil
            state.byClient[session.client]?.removeAll { $0 === session }
            guard state.byClient[session.client]?.isEmpty ?? true else { return false }
            state.byClient[session.client] = nil
            return true
        }
    }

    /// Whether `session` wants the periodic tick (see ``Delivery/PushWindow/wantsTicks``); a
    /// session that was removed is never added back.
    func setTicking(_ session: ClientSession, _ on: Bool) {
        state.withLock { state in
            let key = ObjectIdentifier(session)
            guard on, state.byClient[session.client]?.contains(where: { $0 === session }) ?? false else {
                state.ticking[key] = nil
                return
            }
            state.ticking[key] = session
        }
    }

    /// The sessions that want the periodic tick now.
    var needingTicks: [ClientSession] { state.withLock { Array($0.ticking.values) } }

    func sessions(of client: NodeID) -> [ClientSession] { state.withLock { $0.byClient[client] ?? [] } }
    var all: [ClientSession] { state.withLock { $0.byClient.values.flatMap { $0 } } }

    func closeAll() {
        for session in all { session.link.close() }
    }
}
