import P2PCore
import Raft

/// A Raft snapshot streamed from a leader to a follower in chunks, over their server link
/// (``PeerMessage/snapshot(_:)``): the leader's applied mailbox state, read from one LMDB
/// snapshot, in at most ``maximumChunkBytes`` per chunk, with a bounded window of chunks in
/// flight (``SnapshotSender``); the follower stages them and installs the whole
/// (``SnapshotReceiver``).
package enum SnapshotTransfer: Equatable, Sendable {
    /// The leader (in Raft term `term`) starts stream `stream`: its state at `metadata.index`.
    case begin(stream: UInt64, term: Term, metadata: SnapshotMetadata)
    /// Chunk `sequence` (from 1) of the stream's records; the last one says how many records
    /// the stream held in all.
    case chunk(stream: UInt64, sequence: UInt64, records: [UInt8], total: UInt64?)
    /// The follower wrote everything through chunk `sequence` (0: it is ready for chunks).
    case ack(stream: UInt64, sequence: UInt64)
    /// Either side gives the stream up.
    case abort(stream: UInt64, reason: String)

    /// The most record bytes one chunk may carry (frames are limited to 16 MiB).
    package static let maximumChunkBytes = 15 << 20
    /// The longest abort reason accepted.
    static let maximumReasonLength = 1024

    /// The stream the message belongs to.
    package var stream: UInt64 {
        switch self {
        case .begin(let stream, _, _), .chunk(let stream, _, _, _), .ack(let stream, _), .abort(let stream, _): stream
        }
    }

    private enum Tag: UInt8 {
        case begin = 1, chunk, ack, abort
    }

    func encode(into writer: inout ByteWriter) {
        switch self {
        case .begin(let stream, let term, let metadata):
            writer.write(Tag.begin.rawValue)
            writer.write(stream)
            writer.write(term)
            writer.write(lengthPrefixed: metadata.encoded())
        case .chunk(let stream, let sequence, let records, let total):
            writer.write(Tag.chunk.rawValue)
            writer.write(stream)
            writer.write(sequence)
            writer.write(optional: total) { $0.write($1) }
            writer.write(lengthPrefixed: records)
        case .ack(let stream, let sequence):
            writer.write(Tag.ack.rawValue)
            writer.write(stream)
            writer.write(sequence)
        case .abort(let stream, let reason):
            writer.write(Tag.abort.rawValue)
            writer.write(stream)
            writer.write(lengthPrefixed: Array(reason.utf8.prefix(Self.maximumReasonLength)))
        }
    }

    static func decode(from reader: inout ByteReader) throws(DecodingError) -> SnapshotTransfer {
        let raw = try reader.readUInt8("snapshot.type")
        guard let tag = Tag(rawValue: raw) else { throw .malformed(field: "snapshot.type", reason: "unknown type \(raw)") }
        let stream = try reader.readUInt64("snapshot.stream")
        switch tag {
        case .begin:
            let term = try reader.readUInt64("snapshot.term")
            let metadata = try SnapshotMetadata(decoding: try reader.readLengthPrefixed("snapshot.metadata"))
            return .begin(stream: stream, term: term, metadata: metadata)
        case .chunk:
            let sequence = try reader.readUInt64("snapshot.sequence")
            let total = try reader.readOptional("snapshot.total") { r throws(DecodingError) in try r.readUInt64("snapshot.total") }
            let records = try reader.readLengthPrefixed("snapshot.records")
            guard records.count <= maximumChunkBytes else {
                throw .tooLarge(field: "snapshot.records", length: records.count, limit: maximumChunkBytes)
            }
            return .chunk(stream: stream, sequence: sequence, records: records, total: total)
        case .ack:
            return .ack(stream: stream, sequence: try reader.readUInt64("snapshot.sequence"))
        case .abort:
            let reason = try reader.readLengthPrefixed("snapshot.reason")
            guard reason.count <= maximumReasonLength else {
                throw .tooLarge(field: "snapshot.reason", length: reason.count, limit: maximumReasonLength)
            }
            return .abort(stream: stream, reason: String(decoding: reason, as: UTF8.self))
        }
    }
}
