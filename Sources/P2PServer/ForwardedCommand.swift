import Mailbox
import P2PCore

/// A mailbox command a follower hands to the leader to propose on its behalf.
package struct ForwardedCommand: Equatable, Sendable {
    package let request: UInt64
    package let command: MailboxCommand

    package func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(request)
        writer.write(lengthPrefixed: command.encoded())
        return writer.bytes
    }

    package init(request: UInt64, command: MailboxCommand) {
        self.request = request
        self.command = command
    }

    package init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        request = try reader.readUInt64("forward.request")
        command = try MailboxCommand(decoding: try reader.readLengthPrefixed("forward.command"))
        try reader.expectEnd()
    }
}

/// The leader's answer to a ``ForwardedCommand``.
package struct ForwardedReply: Equatable, Sendable {
    package enum Result: Equatable, Sendable {
        case applied(MailboxOutcome)
        /// The receiver is not (or no longer) the leader, or leadership changed before commit:
        /// the command may or may not commit; it is idempotent, so the caller retries.
        case retry(String)
    }

    package let request: UInt64
    package let result: Result

    package func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(request)
        switch result {
        case .applied(let outcome):
            writer.write(UInt8(1))
            outcome.encode(into: &writer)
        case .retry(let reason):
            writer.write(UInt8(2))
            writer.write(reason)
        }
        return writer.bytes
    }

    package init(request: UInt64, result: Result) {
        self.request = request
        self.result = result
    }

    package init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        request = try reader.readUInt64("reply.request")
        let kind = try reader.readUInt8("reply.kind")
        switch kind {
        case 1: result = .applied(try MailboxOutcome.decode(from: &reader))
        case 2: result = .retry(try reader.readString("reply.reason"))
        default: throw .malformed(field: "reply.kind", reason: "unknown kind \(kind)")
        }
        try reader.expectEnd()
    }
}
