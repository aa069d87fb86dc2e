import AdminProtocol
import ClientProtocol
import Foundation
import Mailbox
import P2PServer
import P2PCore
import Raft
import Transport

/// Payloads of the frames servers exchange among themselves, which a client tries to smuggle onto
/// its own link. Every frame between servers has one type (``FrameType/serverPeer``, from the
/// registry of every link's frame types, so an answer of that type on a client link is
/// recognised) and carries a ``PeerMessage``, encoded here as a server would.
enum ServerFrames {
    static let type = FrameType.serverPeer.rawValue

    /// A server hello claiming membership of a cluster the attacker formed with itself.
    static func serverHello(from attacker: NodeID) -> [UInt8] {
        PeerMessage.hello(ServerHello(address: "127.0.0.1:1", isMember: true, configuredPeers: 2, formedVoters: [attacker])).encoded()
    }

    /// A heartbeat from the end of time (its term is above the bound: it does not even decode).
    static func heartbeatAtMaximumTerm(from attacker: NodeID, to server: NodeID) -> [UInt8] {
        raft(RaftMessage(from: attacker, to: server, term: .max, body: .heartbeat(commit: .max, readRound: 0)))
    }

    /// A snapshot at the last possible index, naming the attacker the only voter.
    static func snapshotAtMaximumIndex(from attacker: NodeID, to server: NodeID) -> [UInt8] {
        let metadata = SnapshotMetadata(index: .max, term: .max, membership: Membership(voters: [attacker]))
        return raft(RaftMessage(from: attacker, to: server, term: .max, body: .installSnapshot(Snapshot(metadata: metadata, data: [UInt8](repeating: 0, count: 512)))))
    }

    /// A proposal forwarded as a follower would (Raft's `propose`): purge `victim`'s mailbox.
    static func forwardedPurge(of victim: NodeID, from attacker: NodeID, to server: NodeID) -> [UInt8] {
        raft(RaftMessage(from: attacker, to: server, term: 1, body: .propose(commands: [MailboxCommand.purge(recipient: victim).encoded()])))
    }

    /// A joining server's request that a member commit a command: purge `victim`'s mailbox.
    static func commitPurge(of victim: NodeID) -> [UInt8] {
        PeerMessage.request(1, .commit(.purge(recipient: victim))).encoded()
    }

    /// A server's admin request: purge `victim`'s mailbox.
    static func adminPurge(of victim: NodeID) -> [UInt8] {
        PeerMessage.request(1, .admin(.purge(client: victim))).encoded()
    }

    /// A follower's read-index request.
    static func readIndexRequest(from attacker: NodeID, to server: NodeID) -> [UInt8] {
        raft(RaftMessage(from: attacker, to: server, term: 1, body: .readIndex(context: 1)))
    }

    /// An admin purge wrapped for a relay to pass on to `server`.
    static func relayedAdminPurge(of victim: NodeID, to server: NodeID) -> [UInt8] {
        PeerMessage.relay(to: server, .request(1, .admin(.purge(client: victim)))).encoded()
    }

    /// An introduction for `victim` naming the attacker's chosen candidates.
    static func introduction(for victim: NodeID, from attacker: NodeID) -> [UInt8] {
        let introduction = Introduction(
            peer: attacker, tcp: ["203.0.113.7:22"], udp: ["203.0.113.7:53"], token: [UInt8](repeating: 7, count: 16), conversation: 7, initiator: false
        )
        return PeerMessage.introduceClient(client: victim, introduction).encoded()
    }

    /// A Raft message as a server sends it (encoded by hand, so that out-of-bound values go out too).
    private static func raft(_ message: RaftMessage) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt8(2))
        writer.write(lengthPrefixed: message.encoded())
        return writer.bytes
    }
}
