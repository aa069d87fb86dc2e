import Dispatch
import Logging
import Mailbox
import P2PCore
import Raft
import Synchronization

/// The leader's side of streamed Raft snapshots (``SnapshotTransfer``): one stream per follower
/// that needs a snapshot, each reading the leader's applied state from one LMDB snapshot
/// (``MailboxSnapshotReader``) a chunk at a time, with at most ``Settings/window`` chunks
/// unacknowledged. Reads run on a queue of their own, never on the replica's actor nor its
/// storage queue, so the leader keeps serving meanwhile. A stream that makes no progress for
/// ``Settings/stallTimeout`` is given up, and its LMDB snapshot released.
final class SnapshotSender: Sendable {
    /// How snapshots are streamed.
    struct Settings: Sendable {
        /// Record bytes per chunk (a chunk holds at least one record, whatever its size).
        var chunkBytes = 1 << 20
        /// Chunks sent and not yet acknowledged, at most.
        var window: UInt64 = 4
        /// A stream with no acknowledgement for this long is given up.
        var stallTimeout: Duration = .seconds(10)
        /// After a stream completed, the follower's Raft answer is on its way: a new request for
        /// that follower this soon is not acted on.
        var completionGrace: Duration = .seconds(5)
    }

    private struct Stream {
        let id: UInt64
        let term: Term
        let metadata: SnapshotMetadata
        let reader: MailboxSnapshotReader
        let started: ContinuousClock.Instant
        var sent: UInt64 = 0
        var acknowledged: UInt64 = 0
        var bytes = 0
        var reading = false
        var lastChunk: UInt64?
        var lastProgress: ContinuousClock.Instant
        var completed: ContinuousClock.Instant?
    }

    let settings: Settings
    private let streams = Mutex<[NodeID: Stream]>([:])
    private let send: @Sendable (NodeID, SnapshotTransfer) throws -> Void
    private let queue = DispatchQueue(label: "p2pcore.snapshot.read", qos: .utility)
    private let logger: Logger

    init(settings: Settings, logger: Logger, send: @escaping @Sendable (NodeID, SnapshotTransfer) throws -> Void) {
        self.settings = settings
        self.logger = logger
        self.send = send
    }

    /// Whether a stream to `follower` is under way (or just completed): a new request for it
    /// is not acted on.
    func isStreaming(to follower: NodeID) -> Bool {
        streams.withLock { $0[follower] != nil }
    }

    /// Whether any stream is under way or just completed: the leader keeps the log after its
    /// snapshot, which the follower continues from (once its Raft answer is in).
    var holdsLog: Bool {
        streams.withLock { !$0.isEmpty }
    }

    /// Starts streaming the state `reader` holds (described by `metadata`) to `follower`.
    func start(to follower: NodeID, term: Term, metadata: SnapshotMetadata, reader: MailboxSnapshotReader) {
        let id = UInt64.random(in: 1...UInt64.max)
        let now = ContinuousClock.now
        let replaced = streams.withLock { streams in
            defer { streams[follower] = Stream(id: id, term: term, metadata: metadata, reader: reader, started: now, lastProgress: now) }
            return streams[follower]
        }
        if let replaced { end(replaced, to: follower, reason: "replaced by a new stream") }
        logger.info("raft: streaming a snapshot", metadata: ["p2p.peer": "\(follower)", "raft.snapshot": "\(metadata.index)"])
        do {
            try send(follower, .begin(stream: id, term: term, metadata: metadata))
        } catch {
            remove(follower, id, reason: "cannot reach it: \(error)", tell: false)
            return
        }
        pump(follower)
    }

    /// The follower acknowledged every chunk through `sequence`.
    func acknowledged(_ id: UInt64, through sequence: UInt64, from follower: NodeID) {
        let finished: Stream? = streams.withLock { streams in
            guard var stream = streams[follower], stream.id == id, stream.completed == nil, sequence <= stream.sent,
                  sequence >= stream.acknowledged
            else { return nil }
            stream.acknowledged = sequence
            stream.lastProgress = .now
            if stream.lastChunk == sequence { stream.completed = .now }
            streams[follower] = stream
            return stream.completed == nil ? nil : stream
        }
        guard let finished else { return pump(follower) }
        finished.reader.end()
        logger.info("raft: snapshot streamed", metadata: [
            "p2p.peer": "\(follower)", "raft.snapshot": "\(finished.metadata.index)", "snapshot.bytes": "\(finished.bytes)",
            "snapshot.records": "\(finished.reader.recordsRead)", "snapshot.duration": "\(ContinuousClock.now - finished.started)",
        ])
    }

    /// The follower gave the stream up.
    func aborted(_ id: UInt64, by follower: NodeID, reason: String) {
        remove(follower, id, reason: "the follower gave it up: \(reason)", tell: false)
    }

    /// Gives up streams that made no progress for too long, and forgets completed ones.
    func tick() {
        let now = ContinuousClock.now
        let (stalled, forgotten) = streams.withLock { streams in
            let stalled = streams.filter { $0.value.completed == nil && now - $0.value.lastProgress > settings.stallTimeout }
            let forgotten = streams.filter { $0.value.completed.map { now - $0 > settings.completionGrace } ?? false }
            for follower in stalled.keys { streams[follower] = nil }
            for follower in forgotten.keys { streams[follower] = nil }
            return (stalled, forgotten)
        }
        for (follower, stream) in stalled { end(stream, to: follower, reason: "no progress for \(settings.stallTimeout)") }
        for stream in forgotten.values { stream.reader.end() }
    }

    /// Ends every stream (leadership lost, or the replica stops).
    func stopAll(reason: String) {
        let all = streams.withLock { streams in
            defer { streams.removeAll() }
            return streams
        }
        for (follower, stream) in all where stream.completed == nil { end(stream, to: follower, reason: reason) }
    }

    // MARK: Internals

    /// Reads and sends the next chunk if the window has room.
    private func pump(_ follower: NodeID) {
        let next: (id: UInt64, sequence: UInt64, reader: MailboxSnapshotReader)? = streams.withLock { streams in
            guard var stream = streams[follower], !stream.reading, stream.lastChunk == nil,
                  stream.sent < stream.acknowledged + settings.window
            else { return nil }
            stream.reading = true
            streams[follower] = stream
            return (stream.id, stream.sent + 1, stream.reader)
        }
        guard let next else { return }
        let chunkBytes = settings.chunkBytes
        queue.async {
            let result = Result { try next.reader.nextChunk(maxBytes: chunkBytes) }
            self.read(result, next.sequence, of: next.id, for: follower, next.reader)
        }
    }

    private func read(
        _ result: Result<(records: [UInt8], isLast: Bool), any Error>, _ sequence: UInt64, of id: UInt64, for follower: NodeID,
        _ reader: MailboxSnapshotReader
    ) {
        let chunk: (records: [UInt8], isLast: Bool)
        switch result {
        case .success(let read): chunk = read
        case .failure(let error): return remove(follower, id, reason: "reading the state failed: \(error)", tell: true)
        }
        let current = streams.withLock { streams in
            guard var stream = streams[follower], stream.id == id else { return false }
            stream.reading = false
            stream.sent = sequence
            stream.bytes += chunk.records.count
            if chunk.isLast { stream.lastChunk = sequence }
            streams[follower] = stream
            return true
        }
        guard current else { return }
        do {
            try send(follower, .chunk(stream: id, sequence: sequence, records: chunk.records, total: chunk.isLast ? reader.recordsRead : nil))
        } catch {
            return remove(follower, id, reason: "cannot reach it: \(error)", tell: false)
        }
        pump(follower)
    }

    private func remove(_ follower: NodeID, _ id: UInt64, reason: String, tell: Bool) {
        let removed = streams.withLock { streams -> Stream? in
            guard let stream = streams[follower], stream.id == id else { return nil }
            streams[follower] = nil
            return stream
        }
        guard let removed else { return }
        if tell {
            end(removed, to: follower, reason: reason)
        } else {
            removed.reader.end()
            logger.notice("raft: snapshot stream ended", metadata: ["p2p.peer": "\(follower)", "raft.snapshot.reason": "\(reason)"])
        }
    }

    /// Releases the stream's LMDB snapshot and tells the follower.
    private func end(_ stream: Stream, to follower: NodeID, reason: String) {
        stream.reader.end()
        try? send(follower, .abort(stream: stream.id, reason: reason))
        logger.notice("raft: snapshot stream ended", metadata: ["p2p.peer": "\(follower)", "raft.snapshot.reason": "\(reason)"])
    }
}
