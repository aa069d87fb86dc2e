import Foundation
import LMDB
import Logging
import Mailbox
import P2PCore
import Raft
import RaftStorage
import Synchronization

/// One server's replica of the mailbox state: a `RaftNode` driven against LMDB.
///
/// It follows the Raft driver contract (persist, then send, then apply) and batches: commands
/// proposed while a ready is being processed go out together in the next one, so concurrent
/// proposals share one LMDB sync for the log and one for the mailboxes (group commit).
///
/// Any replica takes proposals and reads: on a follower the Raft core forwards them to the
/// leader. A proposal carries this replica's id and a number (`Proposal`), by which the
/// replica recognises the entry when it applies it; reads come back as Raft read states.
public actor ReplicatedMailboxes {
    /// Why a proposal did not produce an outcome.
    public enum ProposalError: Error, Equatable, Sendable {
        /// No leader is known to take the proposal or read (`leader`: the one this server knows
        /// of, if any, when it is not in a position to forward to it, e.g. while campaigning).
        case notLeader(leader: NodeID?)
        /// Leadership changed, or no answer came in time, before the entry was seen to commit
        /// here: it may or may not commit. Mailbox commands are idempotent (by message id), so
        /// the caller retries. For a read: no read state came; ask again.
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
    var node: RaftNode
    let log: RaftLogStore
    let environment: Environment
    let send: @Sendable (RaftMessage) -> Void
    let onLeaderChange: @Sendable (NodeID?, Term) -> Void
    let onApplied: @Sendable ([AppliedChange]) -> Void
    let onMembership: @Sendable (Membership) -> Void
    let logger: Logger
    var proposals = TickWaiters<MailboxOutcome>()
    var reads = TickWaiters<LogIndex>()
    var appliedWaiters = AppliedIndexNotifier()
    /// Subscribers to membership and leadership changes (see ``changes()``).
    var changeSubscribers: [UUID: AsyncStream<Void>.Continuation] = [:]
    /// Numbers this replica's proposals and reads: from a random start, so that entries of an
    /// earlier run re-applied after a restart cannot be taken for this run's.
    private var nextNumber = UInt64.random(in: 0...(UInt64.max / 2))
    /// Ticks since start: the clock of proposal and read deadlines.
    private var ticks: UInt64 = 0
    var flushScheduled = false
    /// Raft messages from other servers, waiting to be stepped.
    struct Inbox {
        var messages: [RaftMessage] = []
        /// A task is on its way to step them.
        var drainScheduled = false
        /// The ready loop runs and steps them before each ready: no task is needed.
        var loopDrains = false

        /// Whether a drain task must be started for what waits (none is on its way and the
        /// loop does not run); if so, it counts as started.
        mutating func claimDrain() -> Bool {
            guard !messages.isEmpty, !loopDrains, !drainScheduled else { return false }
            drainScheduled = true
            return true
        }
    }

    nonisolated let inbox = Mutex(Inbox())
    /// Tests: runs each time the ready loop finds nothing to do, just before it looks at the
    /// inbox a last time (to land a message exactly then).
    var loopIdleHook: (@Sendable () -> Void)?

    /// Tests: sets ``loopIdleHook``.
    func setLoopIdleHook(_ hook: (@Sendable () -> Void)?) { loopIdleHook = hook }
    var stopped = false
    /// Whether the ready loop runs (``processReadies()``), and who waits for it to catch up.
    var processingReadies = false
    var idleWaiters: [CheckedContinuation<Void, Never>] = []
    /// The applied index of what LMDB holds (see ``appliedIndex``).
    var storedAppliedIndex: LogIndex = 0
    /// Where LMDB write transactions run, off the actor.
    let storage = StorageQueue(label: "p2pcore.raft.storage")
    /// The log is compacted after this many applied entries, or ``compactBytes`` of them.
    let compactEvery: LogIndex
    let compactBytes: Int
    /// Entry bytes applied since the last compaction.
    var appliedBytesSinceCompaction = 0
    let metrics: ReplicaMetrics
    /// Snapshots this replica streams, as leader, to followers that need one
    /// (see ReplicatedMailboxes+Snapshots.swift).
    let snapshotSender: SnapshotSender
    /// The snapshot streamed to this replica, as follower.
    let snapshotReceiver: SnapshotReceiver
    /// Followers the node asked to send a snapshot to, with the term it asked in: a stream
    /// starts as soon as the applied state can be read at the node's applied index.
    var wantedSnapshots: [NodeID: Term] = [:]
    /// A streamed snapshot fully staged and handed to the node, until a ready installs it.
    var stagedSnapshot: SnapshotMetadata?

    /// Opens the replica stored in `environment`, bootstrapping a new cluster of `bootstrapVoters`
    /// when nothing was persisted yet (pass `nil` for a server that joins a running cluster).
    ///
    /// Raft messages go out through `send`, snapshots streamed to followers through
    /// `sendTransfer` (their answers come back through ``receive(_:from:)``).
    package init(
        configuration: RaftConfiguration,
        environment: Environment,
        bootstrapVoters: Set<NodeID>?,
        limits: MailboxLimits = .init(),
        compactEvery: LogIndex = 10_000,
        compactBytes: Int = 32 << 20,
        snapshotChunkBytes: Int = 1 << 20,
        snapshotStallTimeout: Duration = .seconds(10),
        logger: Logger = Logger(label: "p2pcore.raft"),
        metrics: ReplicaMetrics = .none,
        send: @escaping @Sendable (RaftMessage) -> Void,
        sendTransfer: @escaping @Sendable (NodeID, SnapshotTransfer) throws -> Void,
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
        self.compactBytes = compactBytes
        self.metrics = metrics
        var settings = SnapshotSender.Settings()
        settings.chunkBytes = snapshotChunkBytes
        settings.stallTimeout = snapshotStallTimeout
        snapshotSender = SnapshotSender(settings: settings, logger: logger, send: sendTransfer)
        snapshotReceiver = SnapshotReceiver(store: mailboxes, storage: storage, logger: logger, send: sendTransfer)
        if var persisted = try log.loadPersistedState() {
            // Snapshots made by this version carry no data (the mailboxes in LMDB are the
            // snapshot); one of an older version does, and a crash may have fallen between
            // persisting it and loading it into the mailboxes.
            if let snapshot = persisted.snapshot, try mailboxes.applied().index < snapshot.metadata.index {
                try mailboxes.restore(snapshot: snapshot.data, index: snapshot.metadata.index, term: snapshot.metadata.term)
            }
            // The node need not hold an older version's data: lagging followers get the state streamed.
            persisted.snapshot?.data = []
            node = RaftNode(configuration: configuration, restoring: persisted, storage: log)
        } else if let voters = bootstrapVoters {
            node = RaftNode.bootstrap(configuration: configuration, voters: voters, storage: log)
        } else {
            node = RaftNode(configuration: configuration, storage: log)
        }
        storedAppliedIndex = node.appliedIndex
    }

    /// Processes what the node produced at start-up (bootstrap entries, re-applied commits).
    public func start() async throws {
        try await processReadies()
    }

    // MARK: Inputs

    /// Advances Raft's logical clock by one tick.
    public func tick() async throws {
        ticks += 1
        snapshotSender.tick()
        snapshotReceiver.tick()
        startSnapshotStreams()
        proposals.expire(at: ticks, with: ProposalError.lost)
        reads.expire(at: ticks, with: ProposalError.lost)
        node.tick()
        try await processReadies()
    }

    /// Ticks a proposal waits to be applied here, and a read for its read state.
    static let proposalTimeoutTicks: UInt64 = 30
    static let readTimeoutTicks: UInt64 = 10

    /// Hands a message from another server to Raft, without waiting for the replica.
    ///
    /// Messages wait in an inbox while the replica is busy (typically syncing LMDB); the next
    /// drain steps all of them and processes one ready, so a burst shares one sync of the log
    /// and one of the mailboxes. A link's reader therefore never waits for a sync, and a
    /// follower batches the appends of a busy leader instead of syncing once per message.
    /// While the ready loop runs it steps the inbox before each ready itself, so a busy
    /// replica takes messages without a task (and a thread wake-up) for each burst.
    ///
    /// The inbox holds at most ``inboxLimit`` messages: beyond that, messages are dropped, as a
    /// lossy network would (Raft retransmits), so a flood cannot grow the server's memory.
    public nonisolated func receive(_ message: RaftMessage) {
        // Only a completed stream installs a snapshot without data (``installStreamed``).
        if case .installSnapshot(let snapshot) = message.body, snapshot.data.isEmpty { return }
        let mustSchedule = inbox.withLock { inbox in
            guard inbox.messages.count < Self.inboxLimit else { return false }
            inbox.messages.append(message)
            return inbox.claimDrain()
        }
        if mustSchedule { startDrain() }
    }

    /// Starts the task that steps the inbox (after ``Inbox/claimDrain()``).
    nonisolated func startDrain() {
        Task { await self.drainInbox() }
    }

    /// Raft messages waiting to be stepped, at most.
    public static let inboxLimit = 4096

    /// Steps whatever waits in the inbox now (tests that pump messages by hand).
    func drainNow() async { await drainInbox() }

    private func drainInbox() async {
        inbox.withLock { $0.drainScheduled = false }
        guard !stopped else { return }
        stepInbox()
        await flush()
    }

    /// Steps what waits in the inbox (the ready loop, before each ready).
    func stepInbox() {
        let messages = inbox.withLock { inbox in
            defer { inbox.messages.removeAll(keepingCapacity: true) }
            return inbox.messages
        }
        for message in messages { node.step(message) }
    }

    /// Replicates `command` (through the leader) and returns its outcome once it is committed and
    /// applied here.
    public func propose(_ command: MailboxCommand) async throws -> MailboxOutcome {
        guard !stopped else { throw ProposalError.lost }
        let number = takeNumber()
        do {
            try node.propose(Proposal(proposer: id, number: number, command: command.encoded()).encoded())
        } catch {
            if case .notLeader(let leader) = error { throw ProposalError.notLeader(leader: leader) }
            throw ProposalError.refused(error)
        }
        metrics.proposed()
        scheduleFlush()
        let deadline = ticks + Self.proposalTimeoutTicks
        return try await withCheckedThrowingContinuation { continuation in
            proposals.add(number, deadline: deadline, continuation)
        }
    }

    /// A linearizable read index (Raft's read index, confirmed by the leader with a quorum of
    /// voters): once ``waitUntilApplied(_:deadline:)`` reaches it, this replica's state holds
    /// everything committed before the call. Throws ``ProposalError`` when no leader answers.
    public func readIndex() async throws -> LogIndex {
        guard !stopped else { throw ProposalError.lost }
        let context = takeNumber()
        do {
            try node.readIndex(context: context)
        } catch {
            if case .notLeader(let leader) = error { throw ProposalError.notLeader(leader: leader) }
            throw ProposalError.refused(error)
        }
        scheduleFlush()
        let deadline = ticks + Self.readTimeoutTicks
        return try await withCheckedThrowingContinuation { continuation in
            reads.add(context, deadline: deadline, continuation)
        }
    }

    private func takeNumber() -> UInt64 {
        defer { nextNumber &+= 1 }
        return nextNumber
    }

    /// Stops taking proposals and fails the waiting ones with ``ProposalError/lost`` (they may
    /// still commit; callers retry idempotently). Called when the server shuts down, so that
    /// nothing waits for a commit that this replica will no longer process.
    public func stop() async {
        stopped = true
        snapshotSender.stopAll(reason: "the leader stops")
        snapshotReceiver.stop()
        failWaiters()
        endChanges()
        // The storage may close once this returns: let a transaction under way finish first.
        if processingReadies { await withCheckedContinuation { idleWaiters.append($0) } }
    }

    /// Proposes a membership change (leader only); returns once it is applied here.
    public func changeMembership(_ change: MembershipChange) async throws {
        _ = try node.proposeMembershipChange(change)
        try await processReadies()
    }

    /// Leader only: adds a registered server that is not a member yet as a learner, or promotes a
    /// learner that has caught up to voter. One change per call (Raft allows one at a time);
    /// the server's tick loop calls this periodically, so a change interrupted by a leader
    /// change is completed by the next leader.
    public func reconcileMembership() async {
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
            try await changeMembership(change)
            logger.info("raft: membership change proposed: \(change)")
        } catch RaftError.membershipChangePending {
        } catch {
            logger.notice("raft: membership change \(change) not proposed: \(error)")
        }
    }

    /// How far behind the commit index a learner may be and still be promoted.
    private static let promotionLag: LogIndex = 32

    /// Starts a leadership transfer to `target`.
    public func transferLeadership(to target: NodeID) async throws {
        try node.transferLeadership(to: target)
        try await processReadies()
    }

    /// Compacts the Raft log through the applied index; returns the index the log now starts after.
    @discardableResult
    public func compact() async throws -> LogIndex {
        try await processReadies()
        compactAtApplied()
        try await processReadies()
        return node.snapshotIndex
    }

    /// Compacts the log through the applied index, for the next ready to persist (a no-op
    /// unless LMDB holds the mailboxes exactly at the node's applied index). The snapshot
    /// carries no data: the mailboxes in LMDB, in the environment of the log, are the state at
    /// that index, durably, and are streamed to a follower that needs them.
    func compactAtApplied() {
        guard storedAppliedIndex == node.appliedIndex else { return }
        node.compact(snapshotData: [])
        appliedBytesSinceCompaction = 0
    }

    // MARK: Status

    public var role: RaftRole { node.role }
    public var leader: NodeID? { node.leader }
    public var term: Term { node.term }
    public var commitIndex: LogIndex { node.commitIndex }
    /// The last index applied to the mailboxes in LMDB (the node may have handed out more, whose
    /// transaction is under way).
    public var appliedIndex: LogIndex { storedAppliedIndex }
    public var membership: Membership { node.membership }
    /// The leader's view of how far each follower's log matches its own (empty on followers).
    public var matchIndexes: [NodeID: LogIndex] { node.matchIndexes }
    /// The index the log starts after (the last compaction, or the snapshot installed).
    public var snapshotIndex: LogIndex { node.snapshotIndex }

    /// Waits until this replica applied `index`; `false` if `deadline` passed first. Resumed by
    /// the apply loop as soon as it gets there.
    public func waitUntilApplied(_ index: LogIndex, deadline: ContinuousClock.Instant) async -> Bool {
        if storedAppliedIndex >= index { return true }
        guard !stopped, ContinuousClock.now < deadline else { return false }
        return await withCheckedContinuation { continuation in
            let waiter = appliedWaiters.add(index, continuation)
            let timer = Task { [weak self] in
                guard (try? await Task.sleep(until: deadline)) != nil else { return }
                await self?.expireAppliedWaiter(waiter)
            }
            appliedWaiters.setTimer(timer, for: waiter)
        }
    }

    private func expireAppliedWaiter(_ waiter: UInt64) {
        appliedWaiters.expire(waiter)
    }
}
