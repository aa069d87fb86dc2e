import AdminProtocol
import Mailbox
import P2PCore

/// What one server asks another and waits for an answer to: the one request/reply mechanism
/// between servers (``PeerMesh/ask(_:_:timeout:)``). Proposals and reads between members go
/// through Raft instead (``Raft/RaftNode/propose(_:)``, ``Raft/RaftNode/readIndex(context:)``).
package enum PeerRequest: Equatable, Sendable {
    /// An operator's request, passed on: a member's status, or a leader-only change.
    case admin(AdminRequest)
    /// Commit a mailbox command on the asker's behalf. Only for a server that knows no leader to
    /// propose through (one joining the cluster); from a non-member, only `registerServer` for
    /// itself is taken.
    case commit(MailboxCommand)

    private enum Tag: UInt8 { case admin = 1, commit }

    func encode(into writer: inout ByteWriter) {
        switch self {
        case .admin(let request):
            writer.write(Tag.admin.rawValue)
            writer.write(lengthPrefixed: (try? AdminProtocol.encode(request)) ?? [])
        case .commit(let command):
            writer.write(Tag.commit.rawValue)
            writer.write(lengthPrefixed: command.encoded())
        }
    }

    static func decode(from reader: inout ByteReader) throws(DecodingError) -> PeerRequest {
        let raw = try reader.readUInt8("request.type")
        switch Tag(rawValue: raw) {
        case .admin:
            let bytes = try reader.readLengthPrefixed("request.admin")
            guard let request = try? AdminProtocol.decode(AdminRequest.self, from: bytes) else {
                throw .malformed(field: "request.admin", reason: "not an admin request")
            }
            return .admin(request)
        case .commit:
            return .commit(try MailboxCommand(decoding: try reader.readLengthPrefixed("request.command")))
        case nil:
            throw .malformed(field: "request.type", reason: "unknown request type \(raw)")
        }
    }
}

/// The answer to a ``PeerRequest``.
package enum PeerReply: Equatable, Sendable {
    case admin(AdminResponse)
    case committed(MailboxOutcome)
    /// The command could not be committed (no leader, or leadership moved): it may or may not
    /// commit; commands are idempotent, so the asker retries.
    case retry(String)

    private enum Tag: UInt8 { case admin = 1, committed, retry }

    func encode(into writer: inout ByteWriter) {
        switch self {
        case .admin(let response):
            writer.write(Tag.admin.rawValue)
            writer.write(lengthPrefixed: (try? AdminProtocol.encode(response)) ?? [])
        case .committed(let outcome):
            writer.write(Tag.committed.rawValue)
            outcome.encode(into: &writer)
        case .retry(let reason):
            writer.write(Tag.retry.rawValue)
            writer.write(reason)
        }
    }

    static func decode(from reader: inout ByteReader) throws(DecodingError) -> PeerReply {
        let raw = try reader.readUInt8("reply.type")
        switch Tag(rawValue: raw) {
        case .admin:
            let bytes = try reader.readLengthPrefixed("reply.admin")
            guard let response = try? AdminProtocol.decode(AdminResponse.self, from: bytes) else {
                throw .malformed(field: "reply.admin", reason: "not an admin response")
            }
            return .admin(response)
        case .committed:
            return .committed(try MailboxOutcome.decode(from: &reader))
        case .retry:
            return .retry(try reader.readString("reply.reason"))
        case nil:
            throw .malformed(field: "reply.type", reason: "unknown reply type \(raw)")
        }
    }
}
