import LMDB
import Logging
import Mailbox
import P2PCore
import Raft
import RaftStorage
import Synchronization

/// One server's replica of the mailbox state: a ``RaftNode`` driven against LMDB.
///
/// It follows the Raft driver contract (persist, then send, then apply) and batches: commands
/// proposed while a ready is being processed go out together in the next one, so concurrent
/// proposals share one LMDB sync for the log and one for the mailboxes (group commit).
public actor ReplicatedMailboxes {
    /// Why a proposal did not produce an outcome.
    public enum ProposalError: Error, Equatable, Sendable {
        /// Only the leader accepts commands; `leader` is the one this server knows of.
        case notLeader(leader: NodeID?)
        /// Leadership changed before the entry was seen to commit here: it may or may not commit.
        /// Mailbox commands are idempotent (by message id), so the caller retries.
        case lost
        /// Raft refused the proposal (e.g. a leadership transfer is under way).
        case refused(RaftError)
    }

    /// What changed in the applied mailbox state (for pushing mail and receipts to clients).
    public enum AppliedChange: Sendable {
        case command(MailboxCommand, MailboxOutcome)
        /// The state was replaced by a snapshot: anything may have changed.
        case snapshotRestored
    }

    public nonisolated let id: NodeID
    public let mailboxes: MailboxStore
    private var node: RaftNode
    private let log: RaftLogStore
    private let environment: Environment
    private let send: @Sendable (RaftMessage) -> Void
    private let onLeaderChange: @Sendable (NodeID?, Term) -> Void
    private let onApplied: @Sendable ([AppliedChange]) -> Void
    private let onMembership: @Sendable (Membership) -> Void
    private let logger: Logger
    private var waiting: [LogIndex: (term: Term, continuation: CheckedContinuation<MailboxOutcome, any Error>)] = [:]
    private var flushScheduled = false
    private nonisolated let inbox = Mutex<(messages: [RaftMessage], drainScheduled: Bool)>(([], false))
    private var stopped = false
    private let compactEvery: LogIndex

    /// Opens the replica stored in `environment`, bootstrapping a new cluster of `bootstrapVoters`
    /// when nothing was persisted yet (pass `nil` for a server that joins a running cluster).
    public init(
        configuration: RaftConfiguration,
        environment: Environment,
        bootstrapVoters: Set<NodeID>?,
        limits: MailboxLimits = .init(),
        compactEvery: LogIndex = 10_000,
        logger: Logger = Logger(label: "p2pcore.raft"),
        send: @escaping @Sendable (RaftMessage) -> Void,
        onLeaderChange: @escaping @Sendable (NodeID?, Term) -> Void = { _, _ in },
        onMembership: @escaping @Sendable (Membership) -> Void = { _ in },
        onApplied: @escaping @Sendable ([AppliedChange]) -> Void = { _ in }
    ) throws {
        id = configuration.id
        mailboxes = try MailboxStore(environment: environment, limits: limits)
        log = try RaftLogStore(environment: environment)
        self.environment = environment
        self.send = send
        self.onLeaderChange = onLeaderChange
        self.onMembership = onMembership
        self.onApplied = onApplied
        self.logger = logger
        self.compactEvery = compactEvery
        if let persisted = try log.loadPersistedState() {
            // A crash may have fallen between persisting an installed snapshot and loading it.
            if let snapshot = persisted.snapshot, try mailboxes.applied().index < snapshot.metadata.index {
                try mailboxes.restore(snapshot: snapshot.data, index: snapshot.metadata.index, term: snapshot.metadata.term)
            }
            node = RaftNode(configuration: configuration, restoring: persisted, storage: log)
        } else if let voters = bootstrapVoters {
            node = RaftNode.bootstrap(configuration: configuration, voters: voters, storage: log)
        } else {
            node = RaftNode(configuration: configuration, storage: log)
        }
    }

    /// Processes what the node produced at start-up (bootstrap entries, re-applied commits).
    public func start() throws {
        try processReady()
    }

    // MARK: Inputs

    /// Advances Raft's logical clock by one tick.
    public func tick() throws {
        node.tick()
        try processReady()
    }

    /// Hands a message from another server to Raft, without waiting for the replica.
    ///
    /// Messages wait in an inbox while the replica is busy (typically syncing LMDB); the next
    /// drain steps all of them and processes one ready, so a burst shares one sync of the log
    /// and one of the mailboxes. A link's reader therefore never waits for a sync, and a
    /// follower batches the appends of a busy leader instead of syncing once per message.
    ///
    /// The inbox holds at most ``inboxLimit`` messages: beyond that, messages are dropped, as a
    /// lossy network would (Raft retransmits), so a flood cannot grow the server's memory.
    public nonisolated func receive(_ message: RaftMessage) {
        let mustSchedule = inbox.withLock { inbox in
            guard inbox.messages.count < Self.inboxLimit else { return false }
            inbox.messages.append(message)
            defer { inbox.drainScheduled = true }
            return !inbox.drainScheduled
        }
        if mustSchedule { Task { await self.drainInbox() } }
    }

    /// Raft messages waiting to be stepped, at most.
    public static let inboxLimit = 4096

    /// Steps whatever waits in the inbox now (tests that pump messages by hand).
    func drainNow() { drainInbox() }

    private func drainInbox() {
        let messages = inbox.withLock { inbox in
            defer {
                inbox.messages.removeAll(keepingCapacity: true)
                inbox.drainScheduled = false
            }
            return inbox.messages
        }
        guard !stopped else { return }
        for message in messages { node.step(message) }
        flush()
    }

    /// Replicates `command` and returns its outcome once it is committed and applied here.
    public func propose(_ command: MailboxCommand) async throws -> MailboxOutcome {
        guard !stopped else { throw ProposalError.lost }
        let index: LogIndex
        do {
            index = try node.propose(command.encoded())
        } catch {
            if case .notLeader(let leader) = error { throw ProposalError.notLeader(leader: leader) }
            throw ProposalError.refused(error)
        }
        let term = node.term
        scheduleFlush()
        return try await withCheckedThrowingContinuation { continuation in
            waiting[index] = (term, continuation)
        }
    }

    /// Stops taking proposals and fails the waiting ones with ``ProposalError/lost`` (they may
    /// still commit; callers retry idempotently). Called when the server shuts down, so that
    /// nothing waits for a commit that this replica will no longer process.
    public func stop() {
        stopped = true
        failWaiters(through: .max)
    }

    /// Proposes a membership change (leader only); returns once it is applied here.
    public func changeMembership(_ change: MembershipChange) throws {
        _ = try node.proposeMembershipChange(change)
        try processReady()
    }

    /// Leader only: adds a registered server that is not a member yet as a learner, or promotes a
    /// learner that has caught up to voter. One change per call (Raft allows one at a time);
    /// the server's tick loop calls this periodically, so a change interrupted by a leader
    /// change is completed by the next leader.
    public func reconcileMembership() {
        guard node.role == .leader, let registered = try? mailboxes.servers() else { return }
        let membership = node.membership
        let change: MembershipChange
        if let newcomer = registered.keys.sorted().first(where: { !membership.all.contains($0) }) {
            change = .addLearner(newcomer)
        } else if let learner = membership.learners.sorted().first(where: { learner in
            registered[learner] != nil && (node.matchIndexes[learner] ?? 0) + Self.promotionLag >= node.commitIndex
        }) {
            change = .promote(learner)
        } else {
            return
        }
        do {
            try changeMembership(change)
            logger.info("raft: membership change proposed: \(change)")
        } catch RaftError.membershipChangePending {
        } catch {
            logger.notice("raft: membership change \(change) not proposed: \(error)")
        }
    }

    /// How far behind the commit index a learner may be and still be promoted.
    private static let promotionLag: LogIndex = 32

    /// Starts a leadership transfer to `target`.
    public func transferLeadership(to target: NodeID) throws {
        try node.transferLeadership(to: target)
        try processReady()
    }

    /// Snapshots the mailboxes at the applied index and compacts the Raft log; returns the
    /// index the log now starts after.
    @discardableResult
    public func compact() throws -> LogIndex {
        let snapshot = try mailboxes.snapshot()
        guard snapshot.index == node.appliedIndex else { return node.snapshotIndex }
        node.compact(snapshotData: snapshot.data)
        try processReady()
        return node.snapshotIndex
    }

    // MARK: Status

    public var role: RaftRole { node.role }
    public var leader: NodeID? { node.leader }
    public var term: Term { node.term }
    public var commitIndex: LogIndex { node.commitIndex }
    public var appliedIndex: LogIndex { node.appliedIndex }
    public var membership: Membership { node.membership }
    /// The leader's view of how far each follower's log matches its own (empty on followers).
    public var matchIndexes: [NodeID: LogIndex] { node.matchIndexes }

    /// Waits until this replica applied `index`; `false` if `deadline` passed first.
    public func waitUntilApplied(_ index: LogIndex, deadline: ContinuousClock.Instant) async -> Bool {
        while node.appliedIndex < index {
            guard ContinuousClock.now < deadline, !stopped else { return false }
            do { try await Task.sleep(for: .milliseconds(5)) } catch { return false }
        }
        return true
    }

    // MARK: The driver loop

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        Task { self.flush() }
    }

    private func flush() {
        flushScheduled = false
        do {
            try processReady()
        } catch {
            logger.error("raft: processing a ready failed: \(error)")
        }
    }

    private func processReady() throws {
        // After stop() the storage may be closed: the ready stays in the node, unprocessed.
        guard !stopped else { return }
        let ready = node.ready()
        guard !ready.isEmpty else { return }
        let entries = ready.committedEntries.map { entry in
            MailboxStore.Entry(index: entry.index, term: entry.term, command: entry.kind == .normal ? entry.data : nil)
        }
        var outcomes: [(index: UInt64, outcome: MailboxOutcome)] = []
        if let snapshot = ready.snapshotToApply {
            // 1. Persist, 2. send, 3. apply: the snapshot first, then what committed after it.
            try log.persist(ready)
            for message in ready.messages { send(message) }
            try mailboxes.restore(snapshot: snapshot.data, index: snapshot.metadata.index, term: snapshot.metadata.term)
            failWaiters(through: snapshot.metadata.index)
            onApplied([.snapshotRestored])
            if !entries.isEmpty { outcomes = try mailboxes.apply(entries) }
        } else {
            // Persisting and applying share one transaction, hence one sync. Applying before
            // sending is allowed (the entries are committed), and atomic with their persistence.
            let log = self.log
            let mailboxes = self.mailboxes
            outcomes = try environment.write { txn in
                try log.write(ready, in: txn)
                return entries.isEmpty ? [] : try mailboxes.apply(entries, in: txn)
            }
            for message in ready.messages { send(message) }
        }
        if !ready.committedEntries.isEmpty {
            var outcomeByIndex: [LogIndex: MailboxOutcome] = [:]
            for (index, outcome) in outcomes { outcomeByIndex[index] = outcome }
            let changes = ready.committedEntries.compactMap { entry -> AppliedChange? in
                guard entry.kind == .normal, let outcome = outcomeByIndex[entry.index],
                      let command = try? MailboxCommand(decoding: entry.data) else { return nil }
                return .command(command, outcome)
            }
            if !changes.isEmpty { onApplied(changes) }
            for entry in ready.committedEntries {
                guard let waiter = waiting.removeValue(forKey: entry.index) else { continue }
                if waiter.term == entry.term, let outcome = outcomeByIndex[entry.index] {
                    waiter.continuation.resume(returning: outcome)
                } else {
                    waiter.continuation.resume(throwing: ProposalError.lost)
                }
            }
            if node.appliedIndex >= node.snapshotIndex + compactEvery { try compact() }
        }
        if let membership = ready.membership {
            onMembership(membership)
            logger.info("raft: membership applied", metadata: [
                "raft.voters": "\(membership.voters.sorted().map { "\($0)" }.joined(separator: ","))",
                "raft.learners": "\(membership.learners.sorted().map { "\($0)" }.joined(separator: ","))",
            ])
        }
        if let change = ready.leaderChange {
            logger.info("raft: leader is now \(change.leader.map { "\($0)" } ?? "unknown")", metadata: ["raft.term": "\(change.term)"])
            onLeaderChange(change.leader, change.term)
            // Proposals of a leadership we lost may never commit: let their callers retry.
            if node.role != .leader { failWaiters(through: .max) }
        }
    }

    private func failWaiters(through index: LogIndex) {
        for (waitingIndex, waiter) in waiting where waitingIndex <= index {
            waiting[waitingIndex] = nil
            waiter.continuation.resume(throwing: ProposalError.lost)
        }
    }
}
