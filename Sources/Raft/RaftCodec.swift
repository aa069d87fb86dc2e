import P2PCore

// Binary forms of the Raft types (big-endian, versioned at the message level), for the wire and
// for LMDB. Decoding never traps: bad input is a `DecodingError`, and so is any term or index
// above the bounds of `Raft` (`maximumTerm`, `maximumIndex`).

extension ByteReader {
    /// A term, refused above ``Raft/maximumTerm``.
    mutating func readTerm(_ field: String) throws(DecodingError) -> Term {
        let value = try readUInt64(field)
        guard Raft.isValid(term: value) else { throw .malformed(field: field, reason: "term \(value) above the maximum \(Raft.maximumTerm)") }
        return value
    }

    /// A log index, refused above ``Raft/maximumIndex``.
    mutating func readIndex(_ field: String) throws(DecodingError) -> LogIndex {
        let value = try readUInt64(field)
        guard Raft.isValid(index: value) else { throw .malformed(field: field, reason: "index \(value) above the maximum \(Raft.maximumIndex)") }
        return value
    }
}

extension Membership {
    /// Deterministic bytes: ids sorted, so every node encodes one membership identically.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        encode(into: &writer)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        self = try Membership.decode(from: &reader)
        try reader.expectEnd()
    }

    func encode(into writer: inout ByteWriter) {
        writer.write(array: voters.sorted()) { $0.write($1) }
        writer.write(array: learners.sorted()) { $0.write($1) }
    }

    static func decode(from reader: inout ByteReader) throws(DecodingError) -> Membership {
        let voters = try reader.readArray("membership.voters", limit: 4096) { r throws(DecodingError) in try r.readNodeID("voter") }
        let learners = try reader.readArray("membership.learners", limit: 4096) { r throws(DecodingError) in try r.readNodeID("learner") }
        return Membership(voters: Set(voters), learners: Set(learners))
    }
}

extension LogEntry {
    /// The entry's bytes without index and term (stored beside them by `RaftLogStore`).
    public func encodedPayload() -> [UInt8] {
        var writer = ByteWriter(capacity: data.count + 8)
        writer.write(kind.rawValue)
        writer.write(lengthPrefixed: data)
        return writer.bytes
    }

    /// Decodes an entry's payload stored beside `index` and `term`; both must be within the
    /// bounds of ``Raft``.
    public init(index: LogIndex, term: Term, decodingPayload bytes: [UInt8]) throws(DecodingError) {
        guard Raft.isValid(index: index) else { throw .malformed(field: "entry.index", reason: "index \(index) above the maximum") }
        guard Raft.isValid(term: term) else { throw .malformed(field: "entry.term", reason: "term \(term) above the maximum") }
        var reader = ByteReader(bytes)
        let rawKind = try reader.readUInt8("entry.kind")
        guard let kind = EntryKind(rawValue: rawKind) else { throw .malformed(field: "entry.kind", reason: "unknown kind \(rawKind)") }
        let data = try reader.readLengthPrefixed("entry.data")
        try reader.expectEnd()
        self.init(index: index, term: term, kind: kind, data: data)
    }

    func encode(into writer: inout ByteWriter) {
        writer.write(index)
        writer.write(term)
        writer.write(kind.rawValue)
        writer.write(lengthPrefixed: data)
    }

    static func decode(from reader: inout ByteReader) throws(DecodingError) -> LogEntry {
        let index = try reader.readIndex("entry.index")
        let term = try reader.readTerm("entry.term")
        let rawKind = try reader.readUInt8("entry.kind")
        guard let kind = EntryKind(rawValue: rawKind) else { throw .malformed(field: "entry.kind", reason: "unknown kind \(rawKind)") }
        return LogEntry(index: index, term: term, kind: kind, data: try reader.readLengthPrefixed("entry.data"))
    }
}

extension HardState {
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(term)
        writer.write(optional: vote) { $0.write($1) }
        writer.write(commit)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        term = try reader.readTerm("hardState.term")
        vote = try reader.readOptional("hardState.vote") { r throws(DecodingError) in try r.readNodeID("hardState.vote") }
        commit = try reader.readIndex("hardState.commit")
        try reader.expectEnd()
    }
}

extension SnapshotMetadata {
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(index)
        writer.write(term)
        membership.encode(into: &writer)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        index = try reader.readIndex("snapshot.index")
        term = try reader.readTerm("snapshot.term")
        membership = try Membership.decode(from: &reader)
        try reader.expectEnd()
    }
}

extension RaftMessage {
    static let formatVersion: UInt8 = 1

    private enum Tag: UInt8 {
        case appendEntries = 1, appendResponse, heartbeat, heartbeatResponse, requestVote, voteResponse, installSnapshot, timeoutNow
        case propose, readIndex, readIndexResponse
    }

    /// The message's binary form.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        writer.write(Self.formatVersion)
        writer.write(from)
        writer.write(to)
        writer.write(term)
        switch body {
        case .appendEntries(let prevIndex, let prevTerm, let entries, let commit):
            writer.write(Tag.appendEntries.rawValue)
            writer.write(prevIndex)
            writer.write(prevTerm)
            writer.write(commit)
            writer.write(array: entries) { $1.encode(into: &$0) }
        case .appendResponse(let reject, let index, let hintIndex, let hintTerm):
            writer.write(Tag.appendResponse.rawValue)
            writer.write(reject)
            writer.write(index)
            writer.write(hintIndex)
            writer.write(hintTerm)
        case .heartbeat(let commit, let readRound):
            writer.write(Tag.heartbeat.rawValue)
            writer.write(commit)
            writer.write(readRound)
        case .heartbeatResponse(let readRound):
            writer.write(Tag.heartbeatResponse.rawValue)
            writer.write(readRound)
        case .requestVote(let lastIndex, let lastTerm, let preVote, let transfer):
            writer.write(Tag.requestVote.rawValue)
            writer.write(lastIndex)
            writer.write(lastTerm)
            writer.write(preVote)
            writer.write(transfer)
        case .voteResponse(let granted, let preVote):
            writer.write(Tag.voteResponse.rawValue)
            writer.write(granted)
            writer.write(preVote)
        case .installSnapshot(let snapshot):
            writer.write(Tag.installSnapshot.rawValue)
            writer.write(lengthPrefixed: snapshot.metadata.encoded())
            writer.write(lengthPrefixed: snapshot.data)
        case .timeoutNow:
            writer.write(Tag.timeoutNow.rawValue)
        case .propose(let commands):
            writer.write(Tag.propose.rawValue)
            writer.write(array: commands) { $0.write(lengthPrefixed: $1) }
        case .readIndex(let context):
            writer.write(Tag.readIndex.rawValue)
            writer.write(context)
        case .readIndexResponse(let index, let context):
            writer.write(Tag.readIndexResponse.rawValue)
            writer.write(index)
            writer.write(context)
        }
        return writer.bytes
    }

    /// Decodes a message; truncated, malformed or oversized input throws, and so does a term or
    /// an index above ``Raft/maximumTerm`` / ``Raft/maximumIndex``. Decoding checks fields one by
    /// one; whether a message is consistent (e.g. consecutive entries) is ``RaftNode/step(_:)``'s call.
    public init(decoding bytes: [UInt8], maximumFieldLength: Int = 256 << 20) throws(DecodingError) {
        var reader = ByteReader(bytes, maximumFieldLength: maximumFieldLength)
        let version = try reader.readUInt8("raft.version")
        guard version == Self.formatVersion else { throw .malformed(field: "raft.version", reason: "unsupported version \(version)") }
        from = try reader.readNodeID("raft.from")
        to = try reader.readNodeID("raft.to")
        term = try reader.readTerm("raft.term")
        let rawTag = try reader.readUInt8("raft.type")
        guard let tag = Tag(rawValue: rawTag) else { throw .malformed(field: "raft.type", reason: "unknown message type \(rawTag)") }
        switch tag {
        case .appendEntries:
            let prevIndex = try reader.readIndex("append.prevIndex")
            let prevTerm = try reader.readTerm("append.prevTerm")
            let commit = try reader.readIndex("append.commit")
            let entries = try reader.readArray("append.entries", limit: Raft.maximumEntriesPerMessage) { r throws(DecodingError) in try LogEntry.decode(from: &r) }
            body = .appendEntries(prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, commit: commit)
        case .appendResponse:
            body = .appendResponse(
                reject: try reader.readBool("appendResponse.reject"), index: try reader.readIndex("appendResponse.index"),
                hintIndex: try reader.readIndex("appendResponse.hintIndex"), hintTerm: try reader.readTerm("appendResponse.hintTerm")
            )
        case .heartbeat:
            body = .heartbeat(commit: try reader.readIndex("heartbeat.commit"), readRound: try reader.readUInt64("heartbeat.readRound"))
        case .heartbeatResponse:
            body = .heartbeatResponse(readRound: try reader.readUInt64("heartbeatResponse.readRound"))
        case .requestVote:
            body = .requestVote(
                lastIndex: try reader.readIndex("vote.lastIndex"), lastTerm: try reader.readTerm("vote.lastTerm"),
                preVote: try reader.readBool("vote.preVote"), transfer: try reader.readBool("vote.transfer")
            )
        case .voteResponse:
            body = .voteResponse(granted: try reader.readBool("voteResponse.granted"), preVote: try reader.readBool("voteResponse.preVote"))
        case .installSnapshot:
            let metadata = try SnapshotMetadata(decoding: try reader.readLengthPrefixed("snapshot.metadata"))
            body = .installSnapshot(Snapshot(metadata: metadata, data: try reader.readLengthPrefixed("snapshot.data")))
        case .timeoutNow:
            body = .timeoutNow
        case .propose:
            body = .propose(commands: try reader.readArray("propose.commands", limit: Raft.maximumEntriesPerMessage) { r throws(DecodingError) in
                try r.readLengthPrefixed("propose.command")
            })
        case .readIndex:
            body = .readIndex(context: try reader.readUInt64("readIndex.context"))
        case .readIndexResponse:
            body = .readIndexResponse(index: try reader.readIndex("readIndexResponse.index"), context: try reader.readUInt64("readIndexResponse.context"))
        }
        try reader.expectEnd()
    }
}
