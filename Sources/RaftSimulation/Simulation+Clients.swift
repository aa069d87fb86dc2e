import P2PCore
import Raft

/// Proposals made at followers (forwarded to the leader by the Raft core) and linearizable
/// reads, with their checks.
extension Simulation {
    /// Proposes a fresh proposal id at a random live follower that knows a leader.
    func proposeAtFollower() throws(SimulationViolation) {
        let followers = order.filter { nodes[$0]?.raft.map { $0.role == .follower && $0.leader != nil } == true }
        guard let follower = followers.randomElement(using: &rng) else { return }
        let proposal = nextProposal
        nextProposal += 1
        var writer = ByteWriter()
        writer.write(proposal)
        guard let placed = try? nodes[follower]?.raft?.propose([writer.bytes]) else { return }
        guard placed.isEmpty else { throw violation("forwarding", "follower \(short(follower)) appended its proposal itself at \(placed)") }
        forwardedBy[proposal] = follower
        summary.proposalsForwarded += 1
        try drive(follower)
    }

    /// Asks a random live node for a read, noting the highest commit index anywhere right now.
    func askRead(inHeal: Bool) throws(SimulationViolation) {
        guard let id = randomUpNode() else { return }
        let context = nextRead
        nextRead += 1
        guard (try? nodes[id]?.raft?.readIndex(context: context)) != nil else { return }
        reads[context] = (id, highestCommit(), inHeal ? nodes[id]?.raft?.term : nil)
        if options.trace { print("step \(step) \(short(id)) asks read \(context) (role \(nodes[id]?.raft?.role.rawValue ?? "-"), leader \(nodes[id]?.raft?.leader.map(short) ?? "none"), term \(nodes[id]?.raft?.term ?? 0))") }
        summary.readsRequested += 1
        try drive(id)
    }

    /// The highest index known committed anywhere: what a linearizable read must not miss.
    func highestCommit() -> LogIndex {
        var highest = committed.keys.max() ?? 0
        for node in nodes.values {
            highest = max(highest, node.persisted.hardState.commit, node.raft?.commitIndex ?? 0)
        }
        return highest
    }

    /// An applied proposal must have been proposed; one forwarded counts as acknowledged once
    /// the node that proposed it applies it.
    func checkProposal(_ entry: LogEntry, appliedAt id: NodeID) throws(SimulationViolation) {
        let proposal = proposalID(entry)
        guard proposal > 0, proposal < nextProposal else {
            throw violation("integrity", "node \(short(id)) applies \(describe(entry)), which nobody proposed")
        }
        if forwardedBy[proposal] == id {
            forwardedBy[proposal] = nil
            acknowledged[proposal] = entry.index
            summary.forwardedProposalsCommitted += 1
        }
    }

    /// Linearizability: a read state names an index at least the commit index when the read was
    /// asked (and a committed one), at the node that asked.
    func checkRead(_ state: ReadState, at id: NodeID) throws(SimulationViolation) {
        guard let read = reads[state.context], read.node == id else {
            throw violation("read index", "node \(short(id)) got read state \(state.context), which it never asked for")
        }
        guard state.index >= read.commitAtRequest else {
            throw violation("linearizable read", "read \(state.context) at node \(short(id)) got index \(state.index), but \(read.commitAtRequest) was committed when it was asked")
        }
        guard state.index <= highestCommit() else {
            throw violation("linearizable read", "read \(state.context) at node \(short(id)) got index \(state.index), beyond anything committed")
        }
        if options.trace { print("step \(step) \(short(id)) read \(state.context) confirmed at \(state.index)") }
        // Counted once (a duplicated response may deliver it again).
        if confirmedReads.insert(state.context).inserted { summary.readsConfirmed += 1 }
    }

    /// After healing, with a leader and no faults, every read asked at a live member is confirmed
    /// unless leadership changed since (a read lost with its leader is asked again by the driver).
    /// A node the leader does not count as a member (its addition never committed) is refused.
    func checkHealedReads() throws(SimulationViolation) {
        let members = currentLeader().flatMap { nodes[$0]?.raft?.membership.all } ?? []
        for (context, read) in reads.sorted(by: { $0.key < $1.key }) where read.healTerm != nil && !confirmedReads.contains(context) {
            guard let raft = nodes[read.node]?.raft, !(nodes[read.node]?.removed ?? true), raft.term == read.healTerm,
                  members.contains(read.node)
            else { continue }
            let role = raft.role == .leader ? "leader" : raft.membership.voters.contains(read.node) ? "voter" : "learner"
            throw violation("read liveness", "read \(context) asked at node \(short(read.node)) (\(role)) after healing was never confirmed")
        }
    }
}
