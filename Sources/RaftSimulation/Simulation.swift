import P2PCore
import Raft

/// A deterministic, seeded simulation of a Raft cluster under faults.
///
/// The network drops, duplicates, delays and reorders messages and is partitioned (also
/// asymmetrically); nodes crash (losing everything they had not persisted, sometimes between
/// persisting and sending), restart from what they persisted, change membership and transfer
/// leadership while clients keep proposing. Safety properties are checked after every step;
/// liveness after a final healed phase. The same options always produce the same run.
public final class Simulation {
    public let options: SimulationOptions
    var rng: SplitMix64
    var nodes: [NodeID: SimulatedNode] = [:]
    var order: [NodeID] = []
    var spareIDs: [NodeID] = []
    var pendingRemovals: Set<NodeID> = []
    var inFlight: [(at: Int, sequence: Int, message: RaftMessage)] = []
    var sendSequence = 0
    var blocked: Set<[NodeID]> = []
    var step = 0
    var faultsEnabled = true

    // Global knowledge for the checks.
    var leadersByTerm: [Term: NodeID] = [:]
    struct EntryIdentity: Equatable { let kind: EntryKind; let data: [UInt8]; let previousTerm: Term }
    var entryIdentities: [LogIndex: [Term: EntryIdentity]] = [:]
    var committed: [LogIndex: LogEntry] = [:]
    var acknowledged: [UInt64: LogIndex] = [:]
    var nextProposal: UInt64 = 1
    /// Proposals made at a follower (forwarded to the leader), by the node that made them.
    var forwardedBy: [UInt64: NodeID] = [:]
    /// Reads asked for, by context: where, the highest commit index anywhere at that moment, and
    /// (asked after healing) the asker's term.
    var reads: [UInt64: (node: NodeID, commitAtRequest: LogIndex, healTerm: Term?)] = [:]
    var nextRead: UInt64 = 1
    var confirmedReads: Set<UInt64> = []
    public internal(set) var summary = SimulationSummary()

    public init(options: SimulationOptions) {
        self.options = options
        self.rng = SplitMix64(seed: options.seed)
        let ids = (0..<(options.nodes + 3)).map { _ in randomID() }
        let voters = Array(ids.prefix(options.nodes))
        spareIDs = Array(ids.dropFirst(options.nodes))
        for id in voters {
            var node = SimulatedNode(id: id)
            node.raft = RaftNode.bootstrap(configuration: configuration(for: id), voters: Set(voters), storage: node.storage)
            nodes[id] = node
        }
        order = voters.sorted()
    }

    /// Runs the whole simulation; throws the first violation.
    public func run() throws(SimulationViolation) -> SimulationSummary {
        for id in order { try drive(id) }
        for _ in 0..<options.steps {
            try advance()
            try injectFaults()
            try checkAfterStep()
        }
        try heal()
        return summary
    }

    // MARK: - Steps

    func advance() throws(SimulationViolation) {
        step += 1
        let due = inFlight.filter { $0.at <= step }
        inFlight.removeAll { $0.at <= step }
        var deliveries = due.sorted { $0.sequence < $1.sequence }
        deliveries.shuffle(using: &rng)
        for delivery in deliveries {
            let message = delivery.message
            if faultsEnabled && chance(options.dropRate) { continue }
            if blocked.contains([message.from, message.to]) { continue }
            guard nodes[message.to]?.isUp == true else { continue }
            nodes[message.to]?.raft?.step(message)
            summary.messagesDelivered += 1
            try drive(message.to)
        }
        for id in order where nodes[id]?.isUp == true {
            nodes[id]?.raft?.tick()
            try drive(id)
        }
    }

    private func send(_ messages: [RaftMessage]) {
        for message in messages {
            enqueue(message)
            if faultsEnabled && chance(options.duplicateRate) { enqueue(message) }
        }
    }

    /// Carries out a node's ready as a correct driver would: persist, send, apply.
    func drive(_ id: NodeID) throws(SimulationViolation) {
        guard var node = nodes[id], var raft = node.raft else { return }
        let ready = raft.ready()
        node.raft = raft

        // A leader may replicate before it writes: then a crash may fall between the two.
        if ready.messagesMayPrecedePersistence {
            send(ready.messages)
            if faultsEnabled && chance(options.crashRate * options.crashBeforeSendRate) && canCrash(id) {
                node.crash(losingUnsynced: chance(options.unsyncedLossRate))
                nodes[id] = node
                summary.crashes += 1
                return
            }
        }

        // 1. Persist.
        var persisted = node.persisted
        if let snapshot = ready.snapshot {
            persisted.snapshot = snapshot
            persisted.entries.removeAll { $0.index <= snapshot.metadata.index }
        }
        if let from = ready.truncateFrom {
            persisted.entries.removeAll { $0.index >= from }
        }
        if let first = ready.entries.first {
            let expected = (persisted.entries.last?.index ?? persisted.snapshot?.metadata.index ?? 0) + 1
            guard first.index == expected else {
                throw violation("persistence contract", "node \(short(id)) was asked to append index \(first.index) after \(expected - 1)")
            }
        }
        persisted.entries.append(contentsOf: ready.entries)
        if let hardState = ready.hardState { persisted.hardState = hardState }
        node.persisted = persisted
        node.storage.store(persisted.entries)
        if ready.needsDurability { node.durable = persisted }
        try checkLogMatching(node: node, newEntries: ready.entries)

        raft.persisted(ready.durableMark)
        node.raft = raft

        if !ready.messagesMayPrecedePersistence {
            // A crash between persisting and sending: the messages are lost, nothing else is.
            if faultsEnabled && !ready.messages.isEmpty && chance(options.crashRate * options.crashBeforeSendRate) && canCrash(id) {
                node.crash(losingUnsynced: chance(options.unsyncedLossRate))
                nodes[id] = node
                summary.crashes += 1
                return
            }
            // 2. Send.
            send(ready.messages)
        }

        // 3. Apply.
        if options.trace {
            if let snapshot = ready.snapshotToApply { print("step \(step) \(short(id)) installs snapshot \(snapshot.metadata.index) (sm applied \(node.stateMachineApplied))") }
            if let first = ready.committedEntries.first, let last = ready.committedEntries.last {
                print("step \(step) \(short(id)) applies \(first.index)...\(last.index) (sm applied \(node.stateMachineApplied), role \(raft.role), term \(raft.term))")
            }
            if let snapshot = ready.snapshot, ready.snapshotToApply == nil { print("step \(step) \(short(id)) compacts through \(snapshot.metadata.index) (sm applied \(node.stateMachineApplied), keys \(node.stateMachine.count))") }
        }
        if let snapshot = ready.snapshotToApply {
            let restored: [LogIndex: UInt64]
            do {
                restored = try SimulatedNode.decodeStateMachine(snapshot.data)
            } catch {
                throw violation("snapshot integrity", "node \(short(id)) received an undecodable snapshot: \(error)")
            }
            for (index, proposal) in restored {
                if let known = committed[index], proposalID(known) != proposal {
                    throw violation("state machine safety", "snapshot at node \(short(id)) holds proposal \(proposal) at \(index), committed was \(proposalID(known))")
                }
            }
            node.stateMachine = restored
            node.stateMachineApplied = snapshot.metadata.index
            summary.snapshotsInstalled += 1
        }
        for entry in ready.committedEntries {
            if let known = committed[entry.index], known != entry {
                throw violation("state machine safety", "node \(short(id)) applies \(describe(entry)) where \(describe(known)) was applied")
            }
            committed[entry.index] = entry
            guard entry.index > node.stateMachineApplied else { continue }
            if entry.kind == .normal { node.stateMachine[entry.index] = proposalID(entry) }
            node.stateMachineApplied = entry.index
            if entry.kind == .normal { try checkProposal(entry, appliedAt: id) }
            if raft.role == .leader && entry.kind == .normal && entry.term == raft.term {
                acknowledged[proposalID(entry)] = entry.index
                summary.proposalsAcknowledged += 1
            }
        }
        if ready.needsDurability { node.durableStateMachine = (node.stateMachineApplied, node.stateMachine) }
        for state in ready.readStates { try checkRead(state, at: id) }
        if ready.membership != nil, raft.role == .leader {
            for removed in pendingRemovals where !raft.membership.all.contains(removed) {
                pendingRemovals.remove(removed)
                nodes[removed]?.raft = nil
                nodes[removed]?.removed = true
            }
        }
        nodes[id] = node
    }

    func enqueue(_ message: RaftMessage) {
        sendSequence += 1
        let delay = 1 + Int(rng.next() % UInt64(max(1, options.maxDelay)))
        inFlight.append((step + delay, sendSequence, message))
    }

    // MARK: - Faults and client actions

    func injectFaults() throws(SimulationViolation) {
        if chance(options.partitionRate) { partition() }
        if chance(options.healRate) { blocked.removeAll() }
        if chance(options.crashRate), let victim = randomUpNode(), canCrash(victim) {
            nodes[victim]?.crash(losingUnsynced: chance(options.unsyncedLossRate))
            summary.crashes += 1
        }
        for id in order where nodes[id]?.isUp == false && nodes[id]?.removed == false && chance(options.restartRate) {
            try restart(id)
        }
        if chance(options.proposalRate), let leader = currentLeader() {
            let proposal = nextProposal
            nextProposal += 1
            var writer = ByteWriter()
            writer.write(proposal)
            if (try? nodes[leader]?.raft?.propose(writer.bytes)) != nil { try drive(leader) }
        }
        if chance(options.forwardRate) { try proposeAtFollower() }
        if chance(options.readRate) { try askRead(inHeal: false) }
        if chance(options.membershipChangeRate) { try changeMembership() }
        if chance(options.transferRate), let leader = currentLeader(), let raft = nodes[leader]?.raft {
            let candidates = raft.membership.voters.sorted().filter { $0 != leader && nodes[$0]?.isUp == true }
            if let target = candidates.randomElement(using: &rng), (try? nodes[leader]?.raft?.transferLeadership(to: target)) != nil {
                summary.transfers += 1
                try drive(leader)
            }
        }
        if chance(options.compactionRate), let id = randomUpNode(), let node = nodes[id], let raft = node.raft,
           raft.appliedIndex > raft.snapshotIndex + 5 {
            nodes[id]?.raft?.compact(snapshotData: node.encodedStateMachine())
            try drive(id)
        }
    }

    func partition() {
        summary.partitions += 1
        let members = order.filter { nodes[$0]?.removed == false }
        guard members.count > 1 else { return }
        switch rng.next() % 3 {
        case 0:
            // Split in two groups.
            let shuffled = members.shuffled(using: &rng)
            let cut = 1 + Int(rng.next() % UInt64(members.count - 1))
            let side = Set(shuffled.prefix(cut))
            for a in members {
                for b in members where side.contains(a) != side.contains(b) { blocked.insert([a, b]) }
            }
        case 1:
            // One direction of one link.
            let a = members[Int(rng.next() % UInt64(members.count))]
            let b = members[Int(rng.next() % UInt64(members.count))]
            if a != b { blocked.insert([a, b]) }
        default:
            // A node that hears everyone but is heard by nobody.
            let a = members[Int(rng.next() % UInt64(members.count))]
            for b in members where b != a { blocked.insert([a, b]) }
        }
    }

    func changeMembership() throws(SimulationViolation) {
        guard let leader = currentLeader(), let raft = nodes[leader]?.raft else { return }
        let membership = raft.membership
        let change: MembershipChange
        if let learner = membership.learners.sorted().first {
            guard (raft.matchIndexes[learner] ?? 0) >= raft.commitIndex else { return }
            change = .promote(learner)
        } else if membership.voters.count <= options.nodes, let spare = spareIDs.first {
            change = .addLearner(spare)
        } else if membership.voters.count > 3 {
            let voters = membership.voters.sorted()
            change = .remove(voters[Int(rng.next() % UInt64(voters.count))])
        } else {
            return
        }
        guard (try? nodes[leader]?.raft?.proposeMembershipChange(change)) != nil else { return }
        summary.membershipChanges += 1
        switch change {
        case .addLearner(let id):
            spareIDs.removeFirst()
            var node = SimulatedNode(id: id)
            node.raft = RaftNode(configuration: configuration(for: id), storage: node.storage)
            nodes[id] = node
            order = (order + [id]).sorted()
        case .remove(let id):
            pendingRemovals.insert(id)
        case .promote:
            break
        }
        try drive(leader)
    }

    func restart(_ id: NodeID) throws(SimulationViolation) {
        guard let persisted = nodes[id]?.persisted else { return }
        if options.trace { print("step \(step) \(short(id)) restarts: snapshot \(persisted.snapshot?.metadata.index ?? 0), entries \(persisted.entries.first?.index ?? 0)...\(persisted.entries.last?.index ?? 0), commit \(persisted.hardState.commit), sm applied \(nodes[id]?.stateMachineApplied ?? 0)") }
        // A crash after persisting an installed snapshot but before loading it leaves the state
        // machine behind the snapshot: a correct driver reloads it from the persisted snapshot.
        if let snapshot = persisted.snapshot, snapshot.metadata.index > nodes[id]?.stateMachineApplied ?? 0 {
            do {
                nodes[id]?.stateMachine = try SimulatedNode.decodeStateMachine(snapshot.data)
            } catch {
                throw violation("snapshot integrity", "node \(short(id)) persisted an undecodable snapshot: \(error)")
            }
            nodes[id]?.stateMachineApplied = snapshot.metadata.index
        }
        let storage = nodes[id]?.storage
        nodes[id]?.raft = RaftNode(configuration: configuration(for: id), restoring: persisted, storage: storage)
        nodes[id]?.leaderTerm = nil
        try drive(id)
    }

    /// At most a minority of the voters may be down at once (the rest of the cluster must be
    /// able to make progress for the liveness checks to mean anything).
    func canCrash(_ id: NodeID) -> Bool {
        guard let membership = currentMembership() else { return false }
        let down = membership.voters.filter { nodes[$0]?.isUp != true }.count
        return down + 1 < membership.quorum || (down + 1) * 2 < membership.voters.count
    }

    // MARK: - Heal and liveness

    func heal() throws(SimulationViolation) {
        faultsEnabled = false
        blocked.removeAll()
        for id in order where nodes[id]?.isUp == false && nodes[id]?.removed == false { try restart(id) }
        let bound = 10 * options.electionTicks
        var leaderAt: Int?
        for healStep in 1...options.healSteps {
            try advance()
            try checkAfterStep()
            if leaderAt == nil, currentLeader() != nil { leaderAt = healStep }
            if healStep % 10 == 0, let leader = currentLeader() {
                var writer = ByteWriter()
                writer.write(nextProposal)
                nextProposal += 1
                if (try? nodes[leader]?.raft?.propose(writer.bytes)) != nil { try drive(leader) }
            }
            if healStep % 10 == 5, healStep + 30 < options.healSteps { try proposeAtFollower() }
            if healStep % 10 == 7, healStep + 30 < options.healSteps, leaderAt != nil { try askRead(inHeal: true) }
        }
        guard let leaderAt, leaderAt <= bound else {
            throw violation("liveness", "no leader within \(bound) ticks of healing the network")
        }
        summary.ticksToLeaderAfterHeal = leaderAt
        try checkHealedReads()
        // Every member (a node whose addition never committed is not one) must hold it all.
        let members = currentLeader().flatMap { nodes[$0]?.raft?.membership.all } ?? []
        for id in order where members.contains(id) {
            guard let node = nodes[id], node.isUp, !node.removed else { continue }
            for (proposal, index) in acknowledged.sorted(by: { $0.value < $1.value }) where node.stateMachine[index] != proposal {
                throw violation("durability", "proposal \(proposal) acknowledged at index \(index) is not applied on node \(short(id)) (it has \(node.stateMachine[index].map(String.init) ?? "nothing"), applied through \(node.stateMachineApplied))")
            }
        }
    }
}

extension UInt64 {
    init?(bigEndianBytes bytes: [UInt8]) {
        guard bytes.count == 8 else { return nil }
        self = bytes.reduce(0) { ($0 << 8) | UInt64($1) }
    }
}
