import LMDB
import Logging
import Mailbox
import P2PCore
import Raft
import RaftStorage

/// Raft snapshots, streamed: the mailboxes in LMDB are the snapshot. The node compacts without
/// data (``compactAtApplied()``); when it asks to send a follower a snapshot, this replica
/// streams its applied state instead (``SnapshotSender``), read from one LMDB snapshot at the
/// applied index; a follower stages what it receives (``SnapshotReceiver``) and the ready that
/// installs the snapshot makes the staged state live in the transaction that persists it.
extension ReplicatedMailboxes {
    /// Takes a snapshot stream's message from member `peer`.
    package nonisolated func receive(_ transfer: SnapshotTransfer, from peer: NodeID) {
        switch transfer {
        case .begin, .chunk:
            snapshotReceiver.handle(transfer, from: peer) { [weak self] leader, term, metadata in
                await self?.installStreamed(from: leader, term: term, metadata: metadata) ?? false
            }
        case .ack(let stream, let sequence):
            snapshotSender.acknowledged(stream, through: sequence, from: peer)
        case .abort(let stream, let reason):
            snapshotSender.aborted(stream, by: peer, reason: reason)
            snapshotReceiver.handle(transfer, from: peer) { _, _, _ in false }
        }
    }

    /// Withholds the ready's snapshot messages (they carry no data): the followers they are for
    /// get the state streamed (``startSnapshotStreams()``). Returns the other messages.
    func takeSnapshotRequests(_ messages: [RaftMessage]) -> [RaftMessage] {
        messages.filter { message in
            guard case .installSnapshot = message.body else { return true }
            wantedSnapshots[message.to] = message.term
            return false
        }
    }

    /// Starts a stream for each follower the node asked a snapshot for and that has none under
    /// way, if the state in LMDB is exactly at the node's applied index now (otherwise at the
    /// next chance: after a ready, or the next tick).
    func startSnapshotStreams() {
        guard !wantedSnapshots.isEmpty else { return }
        guard node.role == .leader else { return wantedSnapshots.removeAll() }
        for (follower, term) in wantedSnapshots.sorted(by: { $0.key < $1.key }) {
            guard term == node.term, node.membership.all.contains(follower), !snapshotSender.isStreaming(to: follower) else {
                wantedSnapshots[follower] = nil
                continue
            }
            // The node's membership is the one applied through its applied index: the metadata
            // describes exactly the state read when LMDB holds that index.
            guard storedAppliedIndex == node.appliedIndex, let metadata = node.appliedSnapshotMetadata else { return }
            let reader: MailboxSnapshotReader
            do {
                reader = try MailboxSnapshotReader(mailboxes)
            } catch {
                logger.error("raft: cannot read the state for a snapshot: \(error)")
                return
            }
            guard reader.index == metadata.index else {
                reader.end()
                return
            }
            wantedSnapshots[follower] = nil
            snapshotSender.start(to: follower, term: term, metadata: metadata, reader: reader)
        }
    }

    /// Whether the log should be compacted now: enough entries or bytes applied since the last
    /// compaction. While a stream is under way (or just completed), the log after its snapshot
    /// is kept (the follower continues from there), up to four times the byte threshold (what a
    /// restart reads back stays bounded).
    var shouldCompact: Bool {
        let due = node.appliedIndex >= node.snapshotIndex + compactEvery || appliedBytesSinceCompaction >= compactBytes
        guard due else { return false }
        return !snapshotSender.holdsLog || appliedBytesSinceCompaction >= 4 * compactBytes
    }

    /// Hands a fully staged snapshot to the node as the leader's `installSnapshot`; the ready
    /// that installs it makes the staged state live. Whether the node took it (it does not
    /// when it already holds that index).
    func installStreamed(from leader: NodeID, term: Term, metadata: SnapshotMetadata) async -> Bool {
        guard !stopped else { return false }
        stagedSnapshot = metadata
        node.step(RaftMessage(from: leader, to: id, term: term, body: .installSnapshot(Snapshot(metadata: metadata, data: []))))
        do {
            try await processReadies()
        } catch {
            logger.error("raft: installing a streamed snapshot failed: \(error)")
        }
        // The ready that installed it cleared it.
        let installed = stagedSnapshot == nil
        stagedSnapshot = nil
        return installed
    }

    /// Persists `ready` (which installs the staged snapshot) and applies what committed after
    /// it, in one transaction: the snapshot's metadata, the switch to the staged state and its
    /// applied index are durable together or not at all.
    func installStaged(_ ready: RaftReady, _ snapshot: Snapshot, entries: [MailboxStore.Entry]) async throws -> [MailboxStore.Applied] {
        guard stagedSnapshot == snapshot.metadata else {
            throw SnapshotNotStaged(index: snapshot.metadata.index)
        }
        let (log, mailboxes, environment, metrics) = (self.log, self.mailboxes, self.environment, self.metrics)
        let outcomes = try await storage.run {
            try metrics.timingSync {
                try environment.write { txn in
                    try log.write(ready, in: txn)
                    try mailboxes.installStaged(index: snapshot.metadata.index, term: snapshot.metadata.term, in: txn)
                    return entries.isEmpty ? [] : try mailboxes.apply(entries, in: txn)
                }
            }
        }
        stagedSnapshot = nil
        // The state that was live until now: its pages go back to LMDB's free list.
        storage.enqueue { [logger] in
            do { try mailboxes.clearStaging() } catch { logger.warning("raft: emptying the replaced state failed: \(error)") }
        }
        return outcomes
    }
}

/// The node installed a snapshot without data that no stream staged (cannot happen: only a
/// completed stream steps one, see ``ReplicatedMailboxes/receive(_:)``).
struct SnapshotNotStaged: Error, CustomStringConvertible {
    let index: LogIndex
    var description: String { "snapshot \(index) to install without data was not staged" }
}
