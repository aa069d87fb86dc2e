import ClientProtocol
import Mailbox
import P2PCore
import Raft
import Transport

/// Read barriers (Raft's "read index"): a replica that says "no such client" must first have
/// applied everything the leader had committed when it was asked, or a lagging replica (one
/// catching up after a restart or a wipe) would deny a client that exists.
extension P2PServer {
    /// Answers a registry lookup: a record found is always current (records are never removed);
    /// "not registered" only after a read barrier, `.unavailable` when none could be had in `timeout`.
    static func lookUpClient(
        _ id: NodeID, in replica: ReplicatedMailboxes, readIndex: () async -> LogIndex?, timeout: Duration
    ) async -> QueryResult {
        let deadline = ContinuousClock.now + timeout
        if let record = try? replica.mailboxes.client(id) { return .client(record) }
        guard let index = await readIndex() else { return .unavailable("no leader to confirm that \(id) is unknown") }
        guard await replica.waitUntilApplied(index, deadline: deadline) else {
            return .unavailable("this server is catching up with the cluster")
        }
        do {
            return .client(try replica.mailboxes.client(id))
        } catch {
            return .unavailable("\(error)")
        }
    }

    /// The leader's commit index now: this replica's own when it leads, else asked of the leader.
    func leaderCommitIndex(_ replica: ReplicatedMailboxes) async -> LogIndex? {
        if await replica.role == .leader { return await replica.commitIndex }
        guard let leader = await replica.leader, peers.canReach(leader) else { return nil }
        let request = readIndexes.nextRequest()
        var writer = ByteWriter()
        writer.write(request)
        let answer = try? await readIndexes.wait(for: request, timeout: .seconds(1), origin: leader) {
            try peers.send(to: leader, type: ServerFrameType.readIndex, writer.bytes)
        }
        return answer ?? nil
    }

    /// Answers a peer's ``ServerFrameType/readIndex`` request.
    func answerReadIndex(_ bytes: [UInt8], on link: PeerChannel) async {
        var reader = ByteReader(bytes)
        guard let request = try? reader.readUInt64("readIndex.request") else { return }
        var writer = ByteWriter()
        writer.write(request)
        if let replica, await replica.role == .leader {
            writer.write(UInt8(1))
            writer.write(await replica.commitIndex)
        } else {
            writer.write(UInt8(0))
        }
        try? link.send(type: ServerFrameType.readIndexReply, writer.bytes)
    }

    func receivedReadIndex(_ bytes: [UInt8], from peer: NodeID) {
        var reader = ByteReader(bytes)
        guard let request = try? reader.readUInt64("readIndex.request"), let leads = try? reader.readUInt8("readIndex.leads") else { return }
        readIndexes.resolve(request, with: leads == 1 ? try? reader.readUInt64("readIndex.index") : nil, from: peer)
    }
}
