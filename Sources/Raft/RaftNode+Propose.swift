import P2PCore

/// Proposals and linearizable reads: asked of any node, carried out by the leader. A follower
/// forwards them (etcd's `MsgProp` and `MsgReadIndex`), so the driver asks its own node whatever
/// its role and waits for the entry to be applied, or for the ``ReadState``.
extension RaftNode {
    /// Proposes application commands. The leader appends them and returns their indexes; a
    /// follower that knows the leader forwards them to it and returns `[]` (the driver recognises
    /// its entries when they are applied, e.g. by an id inside the command). Without a known
    /// leader, or during a leadership transfer, the proposal is refused.
    @discardableResult
    public mutating func propose(_ commands: [[UInt8]]) throws(RaftError) -> [LogIndex] {
        guard !commands.isEmpty else { return [] }
        guard role == .leader else {
            guard role == .follower, let leader, leader != id else { throw .notLeader(leader: leader) }
            var rest = commands[...]
            while !rest.isEmpty {
                let batch = Array(rest.prefix(configuration.maxEntriesPerMessage))
                rest = rest.dropFirst(batch.count)
                send(to: leader, .propose(commands: batch))
            }
            return []
        }
        guard transferTarget == nil else { throw .transferInProgress }
        return appendCommands(commands)
    }

    /// Proposes one application command: its log index on the leader, `nil` when forwarded.
    @discardableResult
    public mutating func propose(_ command: [UInt8]) throws(RaftError) -> LogIndex? {
        try propose([command]).first
    }

    /// Asks for a linearizable read: once the leader confirmed it still leads (ReadOnlySafe: a
    /// heartbeat round acknowledged by a quorum of voters after the request), a ``ReadState``
    /// with `context` comes out of a later ``ready()`` — here, also when the request was
    /// forwarded. A request lost on the way (leader change, dropped message) yields nothing: the
    /// driver times it out and asks again.
    public mutating func readIndex(context: UInt64) throws(RaftError) {
        switch role {
        case .leader:
            handleReadRequest(from: id, context: context)
        case .follower:
            guard let leader, leader != id else { throw .notLeader(leader: nil) }
            send(to: leader, .readIndex(context: context))
        case .candidate, .preCandidate:
            throw .notLeader(leader: nil)
        }
    }

    // MARK: Leader side

    mutating func appendCommands(_ commands: [[UInt8]]) -> [LogIndex] {
        let first = log.lastIndex + 1
        let entries = commands.enumerated().map { offset, data in
            LogEntry(index: first + LogIndex(offset), term: term, kind: .normal, data: data)
        }
        appendAsLeader(entries)
        return entries.map(\.index)
    }

    /// Takes a read request (from this node or a follower). Until this leader committed an entry
    /// of its own term its commit index may lag the cluster's, so the request waits for that.
    mutating func handleReadRequest(from requester: NodeID, context: UInt64) {
        guard log.term(at: commitIndex) == term else {
            _ = readOnly.postpone(from: requester, context: context)
            return
        }
        if membership.voters == [id] {
            deliverRead(ReadOnly.Request(index: commitIndex, context: context, from: requester, round: 0))
            return
        }
        guard let round = readOnly.add(index: commitIndex, context: context, from: requester) else { return }
        for member in progress.keys.sorted() {
            send(to: member, .heartbeat(commit: min(progress[member]?.match ?? 0, commitIndex), readRound: round))
        }
    }

    /// Hands out the reads a quorum confirmed.
    mutating func releaseConfirmedReads() {
        for request in readOnly.confirmed(voters: membership.voters, quorum: membership.quorum, me: id) {
            deliverRead(request)
        }
    }

    /// Serves the reads that waited for this leader's first commit in its term, once it has one.
    mutating func releasePostponedReads() {
        guard !readOnly.postponed.isEmpty, log.term(at: commitIndex) == term else { return }
        for read in readOnly.takePostponed() { handleReadRequest(from: read.from, context: read.context) }
    }

    private mutating func deliverRead(_ request: ReadOnly.Request) {
        if request.from == id {
            readStates.append(ReadState(index: request.index, context: request.context))
        } else {
            send(to: request.from, .readIndexResponse(index: request.index, context: request.context))
        }
    }
}
