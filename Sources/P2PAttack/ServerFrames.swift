import AdminProtocol
import ClientProtocol
import Foundation
import Mailbox
import P2PServer
import P2PCore
import Raft
import Transport

/// Payloads of the frames servers exchange among themselves, which a client tries to smuggle onto
/// its own link. The frame types are the servers' own (``ServerFrameType``, shared at package
/// level, so an answer of any server type on a client link is recognised); the payloads the
/// attacker encodes itself, as an outsider would.
enum ServerFrames {
    /// A server hello claiming membership of a cluster the attacker formed with itself.
    static func serverHello(from attacker: NodeID) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        writer.write("127.0.0.1:1")
        writer.write(true)
        writer.write(UInt32(2))
        writer.write(array: [attacker]) { $0.write($1) }
        return writer.bytes
    }

    /// A heartbeat from the end of time.
    static func heartbeatAtMaximumTerm(from attacker: NodeID, to server: NodeID) -> [UInt8] {
        RaftMessage(from: attacker, to: server, term: .max, body: .heartbeat(commit: .max, readRound: 0)).encoded()
    }

    /// A snapshot at the last possible index, naming the attacker the only voter.
    static func snapshotAtMaximumIndex(from attacker: NodeID, to server: NodeID) -> [UInt8] {
        let metadata = SnapshotMetadata(index: .max, term: .max, membership: Membership(voters: [attacker]))
        return RaftMessage(from: attacker, to: server, term: .max, body: .installSnapshot(Snapshot(metadata: metadata, data: [UInt8](repeating: 0, count: 512)))).encoded()
    }

    /// A follower's request that the leader purge `victim`'s mailbox.
    static func forwardedPurge(of victim: NodeID) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt64(1))
        writer.write(lengthPrefixed: MailboxCommand.purge(recipient: victim).encoded())
        return writer.bytes
    }

    /// A server's admin request: purge `victim`'s mailbox.
    static func adminPurge(of victim: NodeID) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt64(1))
        for byte in (try? AdminProtocol.encode(AdminRequest.purge(client: victim))) ?? [] { writer.write(byte) }
        return writer.bytes
    }

    static func readIndexRequest() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt64(1))
        return writer.bytes
    }

    /// An introduction for `victim` naming the attacker's chosen candidates.
    static func introduction(for victim: NodeID, from attacker: NodeID) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(victim)
        Introduction(peer: attacker, tcp: ["203.0.113.7:22"], udp: ["203.0.113.7:53"], token: [UInt8](repeating: 7, count: 16), conversation: 7, initiator: false)
            .encode(into: &writer)
        return writer.bytes
    }
}
