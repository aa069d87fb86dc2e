import P2PCore

/// A Raft consensus participant as a pure, deterministic value: no I/O, no clocks, no threads.
///
/// Inputs are ``tick()``, ``step(_:)``, ``propose(_:)``, ``readIndex(context:)``,
/// ``proposeMembershipChange(_:)``, ``transferLeadership(to:)`` and ``compact(snapshotData:)``.
/// Their effects accumulate until the driver calls ``ready()``, which returns them as a
/// ``RaftReady`` to carry out in the order its documentation gives, **before** the next input. Randomness (election jitter) comes from a
/// generator seeded by the configuration, so equal inputs always produce equal outputs.
public struct RaftNode: Sendable {
    public let configuration: RaftConfiguration
    public var id: NodeID { configuration.id }

    public internal(set) var role: RaftRole = .follower
    public internal(set) var term: Term = 0
    public internal(set) var vote: NodeID?
    /// The leader this node currently follows (itself when leader).
    public internal(set) var leader: NodeID?
    public internal(set) var commitIndex: LogIndex = 0
    /// The last index handed to the application through ``RaftReady/committedEntries``.
    public internal(set) var appliedIndex: LogIndex = 0
    /// The membership in force (the last applied membership entry).
    public internal(set) var membership = Membership()

    var log: RaftLog
    var snapshot: Snapshot?
    var rng: SplitMix64
    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    var votes: [NodeID: Bool] = [:]
    var progress: [NodeID: Progress] = [:]
    var transferTarget: NodeID?
    var pendingMembershipIndex: LogIndex = 0
    var readOnly = ReadOnly()

    // Outputs accumulated for the next ready().
    var outbox: [RaftMessage] = []
    var unstableFrom: LogIndex?
    var truncateFrom: LogIndex?
    var snapshotToPersist: Snapshot?
    var snapshotToApply: Snapshot?
    var reportedHardState = HardState()
    var reportedLeader: NodeID?
    var membershipChanged = false
    var readStates: [ReadState] = []

    /// The last index of the log.
    public var lastIndex: LogIndex { log.lastIndex }
    /// The first index still in the log (entries before it are in the snapshot).
    public var firstIndex: LogIndex { log.firstIndex }
    /// The index a local snapshot covers (0: none).
    public var snapshotIndex: LogIndex { log.snapshotIndex }
    /// The leader's view of each follower's matched index (empty unless leader).
    public var matchIndexes: [NodeID: LogIndex] { progress.mapValues(\.match) }
    /// The term of the entry at `index`; `nil` if compacted away or beyond the end.
    public func term(at index: LogIndex) -> Term? { log.term(at: index) }
    /// The entry at `index`, if still in the log.
    public func entry(at index: LogIndex) -> LogEntry? { log.entry(at: index) }
    /// The node a leadership transfer is heading to, if one is under way.
    public var leadershipTransferTarget: NodeID? { transferTarget }

    /// A node restarting from what it persisted (or a new node with nothing persisted, which
    /// waits to be contacted by a leader: see ``bootstrap(configuration:voters:)`` for the first
    /// members of a new cluster).
    ///
    /// The node assumes the state machine reflects at least the persisted snapshot. A driver that
    /// crashed after persisting an installed snapshot but before loading it into the state
    /// machine must therefore, before this call, load `persisted.snapshot` into any state machine
    /// whose applied index is below the snapshot's index.
    ///
    /// With a `storage`, the payloads of durable, applied entries beyond
    /// ``RaftConfiguration/maxCachedLogBytes`` leave memory and are read back from it on demand.
    public init(configuration: RaftConfiguration, restoring persisted: PersistedState? = nil, storage: (any RaftLogStorage)? = nil) {
        self.configuration = configuration
        self.log = RaftLog(storage: storage)
        self.rng = SplitMix64(seed: configuration.randomSeed ^ 0x5DEE_CE66_D1CE_4E5B)
        if let persisted {
            term = persisted.hardState.term
            vote = persisted.hardState.vote
            // A snapshot beyond the bounds of `Raft` cannot have come from an honest cluster: it is
            // ignored rather than trapping on its index (`RaftLogStore` refuses to load one).
            if let snap = persisted.snapshot, Raft.isValid(index: snap.metadata.index), Raft.isValid(term: snap.metadata.term) {
                log.reset(toSnapshotIndex: snap.metadata.index, term: snap.metadata.term)
                membership = snap.metadata.membership
                snapshot = snap
                appliedIndex = snap.metadata.index
            }
            // Only the well-formed prefix of the stored log is kept (consecutive indexes, terms
            // non-decreasing and within bounds); the driver is told to drop the rest.
            let stored = persisted.entries.filter { $0.index > log.snapshotIndex }
            var kept = 0
            var lastTerm = log.lastTerm
            for entry in stored {
                guard entry.index == log.lastIndex + LogIndex(kept) + 1, entry.term >= lastTerm, Raft.isValid(term: entry.term),
                      Raft.isValid(index: entry.index)
                else { break }
                lastTerm = entry.term
                kept += 1
            }
            log.append(Array(stored.prefix(kept)))
            log.markDurable()
            if kept < stored.count { truncateFrom = log.lastIndex + 1 }
            if !Raft.isValid(term: term) {
                // A term past the bound (persisted before peers' terms were checked) would leave the
                // node unable ever to campaign: fall back to the last term its log proves. Its vote
                // is forgotten; a vote request in that term cannot win it (see `isUpToDate`).
                term = log.lastTerm
                vote = nil
            }
            commitIndex = min(max(persisted.hardState.commit, log.snapshotIndex), log.lastIndex)
            // Membership entries already committed take effect again at once (they are handed
            // to the application again too, and re-applying a membership is idempotent).
            for entry in log.entries(from: log.firstIndex, through: commitIndex) where entry.kind == .membership {
                if let decoded = try? Membership(decoding: entry.data) { membership = decoded }
            }
            reportedHardState = HardState(term: term, vote: vote, commit: commitIndex)
            // A corrected term is reported by the first ready, so that it is persisted.
            if term != persisted.hardState.term { reportedHardState = persisted.hardState }
        }
        resetElectionTimeout()
    }

    /// The first members of a brand-new cluster: every one of them must be bootstrapped with the
    /// same voter set, which becomes the committed entry 1 of the log.
    public static func bootstrap(configuration: RaftConfiguration, voters: Set<NodeID>, storage: (any RaftLogStorage)? = nil) -> RaftNode {
        var node = RaftNode(configuration: configuration, storage: storage)
        let entry = LogEntry(index: 1, term: 1, kind: .membership, data: Membership(voters: voters).encoded())
        node.log.append([entry])
        node.unstableFrom = 1
        node.term = 1
        node.commitIndex = 1
        node.membership = Membership(voters: voters)
        return node
    }

    /// Whether this node may campaign (it is a voter).
    var isPromotable: Bool { membership.voters.contains(id) }

    // MARK: - Inputs

    /// Advances logical time by one tick.
    public mutating func tick() {
        if role == .leader {
            tickLeader()
            return
        }
        electionElapsed += 1
        if isPromotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            campaign(preVote: configuration.preVote, transfer: false)
        }
    }

    /// Proposes a single-server membership change. Leader only; one change at a time, and only
    /// once this leader has committed an entry of its own term.
    @discardableResult
    public mutating func proposeMembershipChange(_ change: MembershipChange) throws(RaftError) -> LogIndex {
        guard role == .leader else { throw .notLeader(leader: leader) }
        guard transferTarget == nil else { throw .transferInProgress }
        guard pendingMembershipIndex <= appliedIndex, log.term(at: commitIndex) == term else {
            throw .membershipChangePending
        }
        var next = membership
        switch change {
        case .addLearner(let node):
            guard !next.all.contains(node) else { throw .invalidMembershipChange("\(node) is already a member") }
            next.learners.insert(node)
        case .promote(let node):
            guard next.learners.contains(node) else { throw .invalidMembershipChange("\(node) is not a learner") }
            next.learners.remove(node)
            next.voters.insert(node)
        case .remove(let node):
            guard next.all.contains(node) else { throw .invalidMembershipChange("\(node) is not a member") }
            guard next.voters != [node] else { throw .invalidMembershipChange("cannot remove the last voter") }
            next.voters.remove(node)
            next.learners.remove(node)
        }
        let entry = LogEntry(index: log.lastIndex + 1, term: term, kind: .membership, data: next.encoded())
        pendingMembershipIndex = entry.index
        appendAsLeader([entry])
        return entry.index
    }

    /// Hands leadership to `target` (a voter) once it has caught up. Leader only. Proposals are
    /// refused until the transfer completes or is abandoned after an election timeout.
    public mutating func transferLeadership(to target: NodeID) throws(RaftError) {
        guard role == .leader else { throw .notLeader(leader: leader) }
        guard target != id else { return }
        guard membership.voters.contains(target), progress[target] != nil else { throw .invalidTransferTarget(target) }
        transferTarget = target
        electionElapsed = 0
        if progress[target]?.match == log.lastIndex {
            send(to: target, .timeoutNow)
        } else {
            sendAppend(to: target, allowEmpty: true)
        }
    }

    /// Records the application's snapshot of its state at ``appliedIndex`` and discards the log
    /// it covers. The snapshot is persisted through the next ready and sent to lagging followers.
    /// A driver whose state machine is its own snapshot passes no data (see
    /// ``appliedSnapshotMetadata``) and streams its state itself when the node asks it to send
    /// an ``RaftMessage/Body/installSnapshot(_:)``.
    public mutating func compact(snapshotData: [UInt8]) {
        guard appliedIndex > log.snapshotIndex, let appliedTerm = log.term(at: appliedIndex) else { return }
        let metadata = SnapshotMetadata(index: appliedIndex, term: appliedTerm, membership: membership)
        let made = Snapshot(metadata: metadata, data: snapshotData)
        log.compact(through: appliedIndex)
        snapshot = made
        snapshotToPersist = made
    }

    /// What a snapshot of the application's state at ``appliedIndex`` covers: that index, its
    /// term and the membership applied through it. For a driver whose state machine is its own
    /// snapshot (it streams its state instead of keeping snapshot data); at least as recent as
    /// ``snapshotIndex``. Exact once the first ready after a restart handed out the committed
    /// entries again (until then the membership may be theirs). `nil` if nothing was applied.
    public var appliedSnapshotMetadata: SnapshotMetadata? {
        guard appliedIndex > 0, let appliedTerm = log.term(at: appliedIndex) else { return nil }
        return SnapshotMetadata(index: appliedIndex, term: appliedTerm, membership: membership)
    }

    /// Collects everything to persist, send and apply since the last call (see ``RaftReady``).
    public mutating func ready() -> RaftReady {
        // What earlier readies handed out is durable by now (the driver contract), so applied
        // payloads may leave memory.
        log.evict(appliedThrough: appliedIndex, keepBytes: configuration.maxCachedLogBytes)
        var ready = RaftReady()
        ready.snapshot = snapshotToPersist
        ready.snapshotToApply = snapshotToApply
        ready.truncateFrom = truncateFrom
        if let from = unstableFrom, from <= log.lastIndex {
            ready.entries = log.entries(from: max(from, log.firstIndex), through: log.lastIndex)
        }
        if commitIndex > appliedIndex {
            // Never skipped: if evicted entries cannot be read back, the rest waits for the next ready.
            let committed = log.entries(from: appliedIndex + 1, through: commitIndex)
            appliedIndex = committed.last?.index ?? appliedIndex
            for entry in committed where entry.kind == .membership {
                applyMembership(entry)
            }
            ready.committedEntries = committed
        }
        let hardState = HardState(term: term, vote: vote, commit: commitIndex)
        let termAndVoteKept = reportedHardState.term == term && reportedHardState.vote == vote
        if hardState != reportedHardState {
            ready.hardState = hardState
            ready.changesTermOrVote = !termAndVoteKept
            reportedHardState = hardState
        }
        ready.messages = outbox
        if leader != reportedLeader {
            ready.leaderChange = .init(leader: leader, term: term)
            reportedLeader = leader
        }
        if membershipChanged { ready.membership = membership }
        ready.readStates = readStates
        readStates = []
        outbox = []
        unstableFrom = nil
        truncateFrom = nil
        snapshotToPersist = nil
        snapshotToApply = nil
        membershipChanged = false
        if configuration.leaderPersistsInParallel {
            ready.durableMark = .init(index: log.lastIndex, term: log.lastTerm)
            ready.messagesMayPrecedePersistence = role == .leader && termAndVoteKept
        } else {
            log.markDurable()
        }
        return ready
    }

    /// With ``RaftConfiguration/leaderPersistsInParallel``: the driver persisted a ready (step 1
    /// of its contract); `mark` is that ready's ``RaftReady/durableMark``. A leader may now count
    /// its own log towards a commit.
    public mutating func persisted(_ mark: RaftReady.LogPosition?) {
        guard let mark else { return }
        log.markDurable(through: mark.index, term: mark.term)
        if role == .leader, maybeCommit() { broadcastAppend(allowEmpty: true) }
    }

    // MARK: - Role changes

    mutating func resetElectionTimeout() {
        let base = max(1, configuration.electionTicks)
        randomizedElectionTimeout = base + Int(rng.next() % UInt64(base))
    }

    mutating func becomeFollower(term newTerm: Term, leader newLeader: NodeID?) {
        if newTerm != term {
            term = newTerm
            vote = nil
        }
        role = .follower
        leader = newLeader
        electionElapsed = 0
        heartbeatElapsed = 0
        votes = [:]
        progress = [:]
        transferTarget = nil
        readOnly.reset()
        resetElectionTimeout()
    }

    mutating func becomeLeader() {
        role = .leader
        leader = id
        electionElapsed = 0
        heartbeatElapsed = 0
        votes = [:]
        transferTarget = nil
        progress = [:]
        readOnly.reset()
        for member in membership.all.sorted() where member != id {
            var peer = Progress(next: log.lastIndex + 1)
            peer.recentActive = true
            progress[member] = peer
        }
        // The no-op commits this term's first entry; until then no membership change may start.
        let noop = LogEntry(index: log.lastIndex + 1, term: term, kind: .noop)
        pendingMembershipIndex = noop.index
        appendAsLeader([noop])
    }

    /// Starts an election, or a pre-vote round that does not touch the term.
    mutating func campaign(preVote: Bool, transfer: Bool) {
        // A term never exceeds the bound every peer enforces (and `term + 1` cannot overflow).
        guard term < Raft.maximumTerm else { return }
        let voteTerm: Term
        if preVote {
            role = .preCandidate
            leader = nil
            votes = [:]
            voteTerm = term + 1
        } else {
            term += 1
            vote = id
            role = .candidate
            leader = nil
            votes = [:]
            voteTerm = term
        }
        electionElapsed = 0
        resetElectionTimeout()
        votes[id] = true
        if tallyVotes() == .won {
            preVote ? campaign(preVote: false, transfer: transfer) : becomeLeader()
            return
        }
        for voter in membership.voters.sorted() where voter != id {
            send(to: voter, term: voteTerm, .requestVote(lastIndex: log.lastIndex, lastTerm: log.lastTerm, preVote: preVote, transfer: transfer))
        }
    }

    enum VoteResult { case won, lost, pending }

    func tallyVotes() -> VoteResult {
        let granted = membership.voters.filter { votes[$0] == true }.count
        let rejected = membership.voters.filter { votes[$0] == false }.count
        if granted >= membership.quorum { return .won }
        if rejected >= membership.quorum { return .lost }
        return .pending
    }

    // MARK: - Helpers

    mutating func send(to: NodeID, term messageTerm: Term? = nil, _ body: RaftMessage.Body) {
        outbox.append(RaftMessage(from: id, to: to, term: messageTerm ?? term, body: body))
    }

    mutating func markAppended(from index: LogIndex) {
        unstableFrom = min(unstableFrom ?? index, index)
    }

    mutating func markTruncated(from index: LogIndex) {
        truncateFrom = min(truncateFrom ?? index, index)
        if let from = unstableFrom, from > index { unstableFrom = index }
    }

    mutating func applyMembership(_ entry: LogEntry) {
        guard let next = try? Membership(decoding: entry.data) else { return }
        membership = next
        membershipChanged = true
        guard role == .leader else { return }
        for member in next.all.sorted() where member != id && progress[member] == nil {
            progress[member] = Progress(next: log.lastIndex + 1)
            sendAppend(to: member, allowEmpty: true)
        }
        for member in progress.keys.sorted() where !next.all.contains(member) {
            progress[member] = nil
        }
        if let target = transferTarget, !next.voters.contains(target) { transferTarget = nil }
        if !next.voters.contains(id) {
            // A leader that committed its own removal hands over by stepping down.
            becomeFollower(term: term, leader: nil)
        }
    }
}
