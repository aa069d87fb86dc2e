import P2PCore
import Raft

extension Simulation {
    // MARK: - Checks

    func checkAfterStep() throws(SimulationViolation) {
        for id in order {
            guard let raft = nodes[id]?.raft, raft.role == .leader else { continue }
            if let other = leadersByTerm[raft.term], other != id {
                throw violation("election safety", "two leaders in term \(raft.term): \(short(other)) and \(short(id))")
            }
            leadersByTerm[raft.term] = id
            if nodes[id]?.leaderTerm != raft.term {
                nodes[id]?.leaderTerm = raft.term
                summary.leaderElections += 1
                try checkLeaderCompleteness(id, raft)
            }
        }
    }

    func checkLeaderCompleteness(_ id: NodeID, _ raft: RaftNode) throws(SimulationViolation) {
        for (index, entry) in committed where index > raft.snapshotIndex {
            guard raft.term(at: index) == entry.term else {
                throw violation("leader completeness", "new leader \(short(id)) of term \(raft.term) lacks committed \(describe(entry)) (has term \(raft.term(at: index).map(String.init) ?? "none"))")
            }
        }
    }

    /// Log matching: an (index, term) pair identifies one entry and one previous term everywhere,
    /// which by induction makes logs identical up to any entry they share.
    func checkLogMatching(node: SimulatedNode, newEntries: [LogEntry]) throws(SimulationViolation) {
        guard !newEntries.isEmpty else { return }
        let entries = node.persisted.entries
        guard let first = entries.first else { return }
        for entry in newEntries {
            let previousIndex = entry.index - 1
            let previousTerm: Term
            if previousIndex == 0 {
                previousTerm = 0
            } else if previousIndex >= first.index {
                previousTerm = entries[Int(previousIndex - first.index)].term
            } else if let snapshot = node.persisted.snapshot, snapshot.metadata.index == previousIndex {
                previousTerm = snapshot.metadata.term
            } else {
                continue
            }
            let identity = EntryIdentity(kind: entry.kind, data: entry.data, previousTerm: previousTerm)
            if let known = entryIdentities[entry.index]?[entry.term], known != identity {
                throw violation("log matching", "node \(short(node.id)) holds a different entry at index \(entry.index) term \(entry.term)")
            }
            entryIdentities[entry.index, default: [:]][entry.term] = identity
        }
    }

    // MARK: - Helpers

    func configuration(for id: NodeID) -> RaftConfiguration {
        var configuration = RaftConfiguration(id: id, randomSeed: rng.next())
        configuration.electionTicks = options.electionTicks
        configuration.maxEntriesPerMessage = 8
        configuration.maxInflightMessages = 4
        // Evict every applied payload, so that replication and restarts read them back.
        configuration.maxCachedLogBytes = 0
        configuration.leaderPersistsInParallel = options.leaderPersistsInParallel
        return configuration
    }

    func currentLeader() -> NodeID? {
        order.filter { nodes[$0]?.raft?.role == .leader }
            .max { (nodes[$0]?.raft?.term ?? 0) < (nodes[$1]?.raft?.term ?? 0) }
    }

    func currentMembership() -> Membership? {
        order.compactMap { nodes[$0]?.raft }.max { $0.appliedIndex < $1.appliedIndex }?.membership
    }

    func randomUpNode() -> NodeID? {
        order.filter { nodes[$0]?.isUp == true }.randomElement(using: &rng)
    }

    func chance(_ probability: Double) -> Bool {
        Double(rng.next() % 1_000_000) < probability * 1_000_000
    }

    func randomID() -> NodeID {
        var bytes: [UInt8] = []
        for _ in 0..<2 { withUnsafeBytes(of: rng.next()) { bytes.append(contentsOf: $0) } }
        // Sixteen bytes always make an id; the fallback only keeps this free of force unwraps.
        return NodeID(bytes: bytes) ?? NodeID.random()
    }

    func proposalID(_ entry: LogEntry) -> UInt64 {
        UInt64(bigEndianBytes: entry.data) ?? 0
    }

    func describe(_ entry: LogEntry) -> String {
        "entry \(entry.index) (term \(entry.term), \(entry.kind), proposal \(proposalID(entry)))"
    }

    func short(_ id: NodeID) -> String { String(id.description.prefix(8)) }

    func violation(_ property: String, _ detail: String) -> SimulationViolation {
        SimulationViolation(seed: options.seed, nodes: options.nodes, step: step, property: property, detail: detail)
    }
}
