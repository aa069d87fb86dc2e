import P2PCore

/// A mailbox command as proposed to Raft, tagged with the server that proposed it and a number
/// of that server's: whichever server appends the entry (the leader, for a follower's forwarded
/// proposal), the proposer recognises it when it applies it and hands its outcome to the caller.
struct Proposal: Equatable, Sendable {
    var proposer: NodeID
    var number: UInt64
    /// The encoded ``MailboxCommand``.
    var command: [UInt8]

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: command.count + 32)
        writer.write(proposer)
        writer.write(number)
        writer.write(lengthPrefixed: command)
        return writer.bytes
    }

    init(proposer: NodeID, number: UInt64, command: [UInt8]) {
        self.proposer = proposer
        self.number = number
        self.command = command
    }

    init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        proposer = try reader.readNodeID("proposal.proposer")
        number = try reader.readUInt64("proposal.number")
        command = try reader.readLengthPrefixed("proposal.command")
        try reader.expectEnd()
    }
}
