import P2PCore

extension RaftNode {
    /// Handles a message from another node.
    ///
    /// Nothing a peer sends can trap the node: a message is dropped (ignored) when it is not
    /// addressed to this node, comes from itself, carries a term or an index above the bounds of
    /// ``Raft``, or is inconsistent in itself (see ``RaftMessage/isWellFormed``), and a response
    /// from a node that is not a member is dropped before it can move the term.
    public mutating func step(_ message: RaftMessage) {
        guard message.to == id, message.from != id, message.isWellFormed else { return }
        switch message.body {
        case .appendResponse, .heartbeatResponse, .voteResponse:
            // Only members answer our requests; a stranger must not make us step down.
            guard membership.all.isEmpty || membership.all.contains(message.from) else { return }
        case .propose, .readIndex:
            // Requests from a member to its leader: they mean something within one term only,
            // and never move it.
            guard membership.all.contains(message.from), message.term == term, role == .leader else { return }
            stepLeader(message)
            return
        case .readIndexResponse:
            // Only from the leader this node follows in this term (a new learner may not know
            // the membership yet, but it knows its leader).
            guard message.term == term, role == .follower, leader == message.from else { return }
            stepFollower(message)
            return
        default:
            break
        }
        guard handleTerm(of: message) else { return }

        switch message.body {
        case .requestVote(let lastIndex, let lastTerm, let preVote, _):
            handleVoteRequest(message, lastIndex: lastIndex, lastTerm: lastTerm, preVote: preVote)
            return
        default:
            break
        }

        switch role {
        case .leader:
            stepLeader(message)
        case .candidate, .preCandidate:
            stepCandidate(message)
        case .follower:
            stepFollower(message)
        }
    }

    /// Term bookkeeping common to every role; returns whether the message should be processed.
    private mutating func handleTerm(of message: RaftMessage) -> Bool {
        if message.term > term {
            switch message.body {
            case .requestVote(_, _, let preVote, let transfer):
                let inLease = configuration.checkQuorum && leader != nil && electionElapsed < configuration.electionTicks
                if inLease && !transfer { return false }  // our leader is alive: ignore disruptions
                if !preVote { becomeFollower(term: message.term, leader: nil) }
            case .voteResponse(let granted, let preVote) where preVote && granted:
                break  // pre-vote grants carry the term we would campaign in
            case .appendEntries, .heartbeat, .installSnapshot:
                becomeFollower(term: message.term, leader: message.from)
            default:
                becomeFollower(term: message.term, leader: nil)
            }
            return true
        }
        if message.term < term {
            switch message.body {
            case .appendEntries, .heartbeat:
                // A stale leader: answering with our term makes it step down.
                send(to: message.from, .heartbeatResponse(readRound: 0))
            case .requestVote(_, _, true, _):
                send(to: message.from, .voteResponse(granted: false, preVote: true))
            default:
                break
            }
            return false
        }
        return true
    }

    private mutating func handleVoteRequest(_ message: RaftMessage, lastIndex: LogIndex, lastTerm: Term, preVote: Bool) {
        let canVote = vote == message.from || (vote == nil && leader == nil) || (preVote && message.term > term)
        if canVote && log.isUpToDate(lastIndex: lastIndex, lastTerm: lastTerm) {
            send(to: message.from, term: message.term, .voteResponse(granted: true, preVote: preVote))
            if !preVote {
                vote = message.from
                electionElapsed = 0
            }
        } else {
            send(to: message.from, .voteResponse(granted: false, preVote: preVote))
        }
    }

    // MARK: Follower and candidate

    private mutating func stepFollower(_ message: RaftMessage) {
        switch message.body {
        case .appendEntries, .heartbeat, .installSnapshot:
            // One leader per term: a second node claiming our term is lying.
            if let current = leader, current != message.from { return }
        default:
            break
        }
        switch message.body {
        case .appendEntries(let prevIndex, let prevTerm, let entries, let commit):
            electionElapsed = 0
            leader = message.from
            handleAppend(from: message.from, prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, commit: commit)
        case .heartbeat(let commit, let readRound):
            electionElapsed = 0
            leader = message.from
            if commit > commitIndex { commitIndex = max(commitIndex, min(commit, log.lastIndex)) }
            send(to: message.from, .heartbeatResponse(readRound: readRound))
        case .installSnapshot(let snapshot):
            electionElapsed = 0
            leader = message.from
            handleSnapshot(from: message.from, snapshot)
        case .timeoutNow:
            // Only the leader of our term hands its leadership over.
            if isPromotable, leader == message.from { campaign(preVote: false, transfer: true) }
        case .readIndexResponse(let index, let context):
            readStates.append(ReadState(index: index, context: context))
        default:
            break
        }
    }

    private mutating func stepCandidate(_ message: RaftMessage) {
        switch message.body {
        case .appendEntries, .heartbeat, .installSnapshot:
            // A leader of our term exists.
            becomeFollower(term: term, leader: message.from)
            stepFollower(message)
        case .voteResponse(let granted, let preVote):
            guard preVote == (role == .preCandidate) else { return }
            if votes[message.from] == nil { votes[message.from] = granted }
            switch tallyVotes() {
            case .won:
                if role == .preCandidate {
                    campaign(preVote: false, transfer: false)
                } else {
                    becomeLeader()
                }
            case .lost:
                becomeFollower(term: term, leader: nil)
            case .pending:
                break
            }
        default:
            break
        }
    }

    private mutating func handleAppend(from leaderID: NodeID, prevIndex: LogIndex, prevTerm: Term, entries: [LogEntry], commit: LogIndex) {
        if prevIndex < commitIndex {
            send(to: leaderID, .appendResponse(reject: false, index: commitIndex, hintIndex: 0, hintTerm: 0))
            return
        }
        guard log.matches(index: prevIndex, term: prevTerm) else {
            let hintIndex: LogIndex
            let hintTerm: Term
            if prevIndex > log.lastIndex {
                hintIndex = log.lastIndex + 1
                hintTerm = 0
            } else {
                hintTerm = log.term(at: prevIndex) ?? 0
                hintIndex = max(log.firstIndexOfTerm(at: prevIndex), commitIndex + 1)
            }
            // The leader retries at min(hint, prevIndex): a larger hint says nothing more, and
            // `commitIndex + 1` past `Raft.maximumIndex` would make peers drop the answer.
            send(to: leaderID, .appendResponse(reject: true, index: prevIndex, hintIndex: min(hintIndex, prevIndex), hintTerm: hintTerm))
            return
        }
        let lastNew = prevIndex + LogIndex(entries.count)
        if let conflict = entries.first(where: { log.term(at: $0.index) != $0.term }) {
            // Committed entries can never conflict in a correct cluster; refuse rather than lose them.
            guard conflict.index > commitIndex else { return }
            if conflict.index <= log.lastIndex {
                log.truncate(from: conflict.index)
                markTruncated(from: conflict.index)
            }
            log.append(entries.filter { $0.index >= conflict.index })
            markAppended(from: conflict.index)
        }
        let newCommit = min(commit, lastNew)
        if newCommit > commitIndex { commitIndex = newCommit }
        send(to: leaderID, .appendResponse(reject: false, index: lastNew, hintIndex: 0, hintTerm: 0))
    }

    private mutating func handleSnapshot(from leaderID: NodeID, _ incoming: Snapshot) {
        let metadata = incoming.metadata  // index in 1...maximumIndex (isWellFormed)
        if metadata.index <= commitIndex {
            send(to: leaderID, .appendResponse(reject: false, index: commitIndex, hintIndex: 0, hintTerm: 0))
            return
        }
        if log.matches(index: metadata.index, term: metadata.term) {
            // We already hold the entries: just commit them.
            commitIndex = metadata.index
            send(to: leaderID, .appendResponse(reject: false, index: commitIndex, hintIndex: 0, hintTerm: 0))
            return
        }
        log.reset(toSnapshotIndex: metadata.index, term: metadata.term)
        commitIndex = metadata.index
        appliedIndex = metadata.index
        membership = metadata.membership
        membershipChanged = true
        snapshot = incoming
        snapshotToPersist = incoming
        snapshotToApply = incoming
        unstableFrom = nil
        truncateFrom = metadata.index + 1
        send(to: leaderID, .appendResponse(reject: false, index: metadata.index, hintIndex: 0, hintTerm: 0))
    }
}

extension RaftMessage {
    /// Whether the message is within the bounds of ``Raft`` and consistent in itself: what an
    /// honest node can send. ``RaftNode/step(_:)`` drops any other message.
    ///
    /// - every term and index is at most ``Raft/maximumTerm`` / ``Raft/maximumIndex``;
    /// - AppendEntries: at most ``Raft/maximumEntriesPerMessage`` entries, indexed consecutively
    ///   from `prevIndex + 1`, with terms non-decreasing, at least `prevTerm` and at most the
    ///   message's term (and `prevTerm` itself at most the message's term, 0 only at index 0);
    /// - a vote request's last term is at most its term;
    /// - a snapshot covers index >= 1 with a term in 1...term and has at least one voter;
    /// - a forwarded proposal carries 1 ... ``Raft/maximumEntriesPerMessage`` commands.
    public var isWellFormed: Bool {
        guard Raft.isValid(term: term) else { return false }
        switch body {
        case .appendEntries(let prevIndex, let prevTerm, let entries, let commit):
            guard Raft.isValid(index: prevIndex), Raft.isValid(index: commit), prevTerm <= term,
                  prevIndex > 0 || prevTerm == 0,
                  entries.count <= Raft.maximumEntriesPerMessage,
                  prevIndex <= Raft.maximumIndex - LogIndex(entries.count)
            else { return false }
            var expectedIndex = prevIndex
            var lastTerm = prevTerm
            for entry in entries {
                expectedIndex += 1
                guard entry.index == expectedIndex, entry.term >= max(lastTerm, 1), entry.term <= term else { return false }
                lastTerm = entry.term
            }
            return true
        case .appendResponse(_, let index, let hintIndex, let hintTerm):
            return Raft.isValid(index: index) && Raft.isValid(index: hintIndex) && hintTerm <= term
        case .heartbeat(let commit, _):
            return Raft.isValid(index: commit)
        case .propose(let commands):
            return !commands.isEmpty && commands.count <= Raft.maximumEntriesPerMessage
        case .readIndexResponse(let index, _):
            return Raft.isValid(index: index)
        case .requestVote(let lastIndex, let lastTerm, _, _):
            return Raft.isValid(index: lastIndex) && lastTerm <= term
        case .installSnapshot(let snapshot):
            let metadata = snapshot.metadata
            return metadata.index >= 1 && Raft.isValid(index: metadata.index)
                && metadata.term >= 1 && metadata.term <= term && !metadata.membership.voters.isEmpty
        case .heartbeatResponse, .voteResponse, .timeoutNow, .readIndex:
            return true
        }
    }
}
