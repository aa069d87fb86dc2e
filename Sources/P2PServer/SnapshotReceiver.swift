import Logging
import Mailbox
import P2PCore
import Raft
import Synchronization

/// The follower's side of streamed Raft snapshots (``SnapshotTransfer``): one stream at a time,
/// its chunks checked (order, size, records) and written into the store's staging tables, each
/// in a small transaction on the replica's storage queue (``MailboxStore/stage(_:position:)``),
/// then acknowledged. Once the last one is in, `install` hands the snapshot to Raft, which
/// makes the staged state live if it takes it. A malformed chunk ends the stream (the leader
/// is told); a stream silent for ``stallTimeout`` is dropped. A stream that was cut short
/// leaves records in the staging tables, emptied when the next one begins.
final class SnapshotReceiver: Sendable {
    /// Hands a fully staged snapshot to Raft: whether it was installed.
    typealias Install = @Sendable (_ leader: NodeID, _ term: Term, _ metadata: SnapshotMetadata) async -> Bool

    private struct Incoming {
        let id: UInt64
        let leader: NodeID
        let term: Term
        let metadata: SnapshotMetadata
        /// The next chunk's sequence.
        var expected: UInt64 = 1
        /// Chunks written (and acknowledged) so far.
        var written: UInt64 = 0
        /// Record bytes received and not yet written.
        var pendingBytes = 0
        /// Where staging stands; moved only by storage jobs, which run one at a time in order.
        var position = MailboxStagingPosition()
        var lastActivity: ContinuousClock.Instant
        /// The last chunk is in and Raft is installing: no other stream may touch the staging.
        var installing = false
    }

    /// Chunks, and their bytes, received and not yet written, at most (the leader's window is
    /// smaller): what a stream may hold in memory here.
    static let maximumPendingChunks: UInt64 = 16
    static let maximumPendingBytes = 32 << 20
    let stallTimeout: Duration
    private let incoming = Mutex<Incoming?>(nil)
    private let store: MailboxStore
    private let storage: StorageQueue
    private let send: @Sendable (NodeID, SnapshotTransfer) throws -> Void
    private let logger: Logger

    init(
        store: MailboxStore, storage: StorageQueue, stallTimeout: Duration = .seconds(30), logger: Logger,
        send: @escaping @Sendable (NodeID, SnapshotTransfer) throws -> Void
    ) {
        self.store = store
        self.storage = storage
        self.stallTimeout = stallTimeout
        self.logger = logger
        self.send = send
    }

    /// Takes a stream's begin or chunk from server `peer` (a member: the mesh checked).
    func handle(_ transfer: SnapshotTransfer, from peer: NodeID, install: @escaping Install) {
        switch transfer {
        case .begin(let id, let term, let metadata):
            begin(id, term: term, metadata: metadata, from: peer)
        case .chunk(let id, let sequence, let records, let total):
            chunk(id, sequence, records, total: total, from: peer, install: install)
        case .abort(let id, _):
            incoming.withLock { current in
                if let stream = current, stream.id == id, stream.leader == peer, !stream.installing { current = nil }
            }
        case .ack:
            return
        }
    }

    /// Drops a stream that went silent.
    func tick() {
        let now = ContinuousClock.now
        let dropped = incoming.withLock { current -> UInt64? in
            guard let stream = current, !stream.installing, now - stream.lastActivity > stallTimeout else { return nil }
            current = nil
            return stream.id
        }
        if let dropped { logger.notice("raft: snapshot stream \(dropped) went silent; dropped") }
    }

    /// Forgets the stream under way (the replica stops).
    func stop() {
        incoming.withLock { $0 = nil }
    }

    // MARK: Internals

    private func begin(_ id: UInt64, term: Term, metadata: SnapshotMetadata, from leader: NodeID) {
        enum Decision { case take, duplicate, refuse(String) }
        let decision: Decision = incoming.withLock { current in
            if let stream = current {
                if stream.id == id { return .duplicate }
                if stream.installing { return .refuse("an install is under way") }
                if stream.term > term { return .refuse("a stream of a later term is under way") }
            }
            current = Incoming(id: id, leader: leader, term: term, metadata: metadata, lastActivity: .now)
            return .take
        }
        switch decision {
        case .take: break
        case .duplicate: return
        case .refuse(let reason): return refuse(id, to: leader, reason)
        }
        logger.info("raft: receiving a snapshot", metadata: ["p2p.peer": "\(leader)", "raft.snapshot": "\(metadata.index)"])
        let store = self.store
        storage.enqueue {
            guard self.isCurrent(id) else { return }
            do {
                try store.clearStaging()
            } catch {
                return self.fail(id, "clearing the staging tables failed: \(error)")
            }
            try? self.send(leader, .ack(stream: id, sequence: 0))
        }
    }

    private func chunk(_ id: UInt64, _ sequence: UInt64, _ records: [UInt8], total: UInt64?, from peer: NodeID, install: @escaping Install) {
        enum Check { case take, unknown, malformed(String) }
        let check: Check = incoming.withLock { current in
            guard var stream = current, stream.id == id, stream.leader == peer, !stream.installing else { return .unknown }
            guard sequence == stream.expected else { return .malformed("chunk \(sequence) where \(stream.expected) was expected") }
            guard sequence - stream.written <= Self.maximumPendingChunks else { return .malformed("more than \(Self.maximumPendingChunks) chunks unacknowledged") }
            guard records.count <= SnapshotTransfer.maximumChunkBytes, stream.pendingBytes + records.count <= Self.maximumPendingBytes else {
                return .malformed("a chunk of \(records.count) bytes with \(stream.pendingBytes) bytes not yet written")
            }
            stream.expected += 1
            stream.pendingBytes += records.count
            stream.lastActivity = .now
            current = stream
            return .take
        }
        switch check {
        case .take: break
        case .unknown: return refuse(id, to: peer, "no such stream")
        case .malformed(let reason): return fail(id, reason)
        }
        let store = self.store
        storage.enqueue {
            guard var position = self.position(of: id) else { return }
            do {
                try store.stage(records, position: &position)
            } catch {
                return self.fail(id, "chunk \(sequence) refused: \(error)")
            }
            guard let stream = self.written(sequence, records.count, of: id, at: position, last: total != nil) else { return }
            guard let total else {
                try? self.send(peer, .ack(stream: id, sequence: sequence))
                return
            }
            guard position.records == total else {
                return self.fail(id, "\(position.records) records staged where the leader sent \(total)")
            }
            Task {
                let installed = await install(stream.leader, stream.term, stream.metadata)
                self.incoming.withLock { current in if current?.id == id { current = nil } }
                self.logger.info("raft: snapshot received", metadata: [
                    "p2p.peer": "\(stream.leader)", "raft.snapshot": "\(stream.metadata.index)", "snapshot.records": "\(total)",
                    "snapshot.installed": "\(installed)",
                ])
                try? self.send(stream.leader, .ack(stream: id, sequence: sequence))
            }
        }
    }

    private func isCurrent(_ id: UInt64) -> Bool {
        incoming.withLock { $0?.id == id }
    }

    private func position(of id: UInt64) -> MailboxStagingPosition? {
        incoming.withLock { current in current?.id == id ? current?.position : nil }
    }

    /// Records that chunk `sequence` is written; the stream, if it is still the current one.
    private func written(_ sequence: UInt64, _ bytes: Int, of id: UInt64, at position: MailboxStagingPosition, last: Bool) -> Incoming? {
        incoming.withLock { current in
            guard var stream = current, stream.id == id else { return nil }
            stream.written = sequence
            stream.pendingBytes -= bytes
            stream.position = position
            stream.lastActivity = .now
            if last { stream.installing = true }
            current = stream
            return stream
        }
    }

    /// Ends the current stream `id` because of `reason`, and tells its leader.
    private func fail(_ id: UInt64, _ reason: String) {
        let leader = incoming.withLock { current -> NodeID? in
            guard let stream = current, stream.id == id else { return nil }
            current = nil
            return stream.leader
        }
        guard let leader else { return }
        logger.warning("raft: snapshot stream from \(leader) ended: \(reason)")
        try? send(leader, .abort(stream: id, reason: reason))
    }

    private func refuse(_ id: UInt64, to peer: NodeID, _ reason: String) {
        try? send(peer, .abort(stream: id, reason: reason))
    }
}
