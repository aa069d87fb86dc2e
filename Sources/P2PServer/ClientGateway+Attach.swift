import ClientProtocol
import Logging
import Mailbox
import MessageModel
import P2PCore
import Transport

/// Registering a client and attaching it to this server, when its link opens.
extension ClientGateway {
    /// What registering (and perhaps attaching) a client came to.
    enum Registration {
        /// Registered; `attached` tells whether the attach committed in the same log entry.
        case registered(attached: Bool)
        /// Refused, with the reason the client is told.
        case refused(String)
    }

    /// Registers `record` (binding its id to its key the first time) and, for a client whose id
    /// is derived from its key, attaches it to this server in the same log entry: one proposal
    /// per link instead of two, which halves the commits of a reconnect storm.
    ///
    /// The trust boundary stays where it was: the state machine checks the key binding when it
    /// applies `register`. The attach may ride along only because a derived id is the hash of
    /// its key, so no other key can be bound to it and the attach can only ever touch the
    /// record of the key the link proved. A legacy id registers alone; the caller attaches it
    /// after the register succeeded, as before.
    func register(_ record: ClientRecord, observedAddress: String?) async -> Registration {
        let derived = record.id.isDerived(from: record.publicKey)
        let attach = MailboxCommand.attach(client: record.id, server: id, observedAddress: observedAddress, atMillis: Self.nowMillis())
        let outcomes: [MailboxOutcome]
        do {
            if derived {
                guard case .batch(let list) = try await raft.commit(.batch([.register(record), attach]), budget: .seconds(30)), list.count == 2 else {
                    return .refused("registration refused: unexpected outcome")
                }
                outcomes = list
            } else {
                outcomes = [try await raft.commit(.register(record), budget: .seconds(30))]
            }
        } catch {
            return .refused("could not register: \(error)")
        }
        switch outcomes[0] {
        case .done:
            return .registered(attached: outcomes.count == 2 && outcomes[1] == .done)
        case .keyMismatch:
            logger.notice("refusing client \(record.id): its id is bound to another key")
            context.metrics.rejected(.identity)
            return .refused("client id \(record.id) is bound to another key")
        case let other:
            if derived, outcomes[1] == .done { detach(record.id) }
            return .refused("registration refused: \(other)")
        }
    }

    /// Commits that `client` left this server, in the background.
    func detach(_ client: NodeID) {
        let server = id
        Task { _ = try? await self.raft.commit(.detach(client: client, server: server, atMillis: Self.nowMillis()), budget: .seconds(5)) }
    }
}
