import P2PCore
import Raft

/// `raft-step`: messages (decoded from mutated encodings, or well-typed with hostile values)
/// stepped into a node of a 3-node cluster as leader, follower, pre-candidate, candidate or a
/// fresh node; after every input the node's invariants are checked.
struct RaftStepDriver: FuzzDriver {
    static let ids = (1...3).map { NodeID(bytes: [UInt8](repeating: 0, count: 15) + [UInt8($0)]) ?? .random() }
    /// Nodes in each role, built once by running a small cluster; every input starts from a copy.
    let baselines: [RaftNode]

    init() {
        baselines = Self.makeBaselines()
    }

    static func configuration(_ id: NodeID, preVote: Bool) -> RaftConfiguration {
        var configuration = RaftConfiguration(id: id, randomSeed: UInt64(id.bytes[15]))
        configuration.electionTicks = 10
        configuration.preVote = preVote
        configuration.maxEntriesPerMessage = 4
        return configuration
    }

    static func makeBaselines() -> [RaftNode] {
        var nodes = ids.enumerated().map { offset, id in
            RaftNode.bootstrap(configuration: configuration(id, preVote: offset != 2), voters: Set(ids))
        }
        func settle(_ nodes: inout [RaftNode]) {
            for _ in 0..<1000 {
                var messages: [RaftMessage] = []
                for i in nodes.indices { messages += nodes[i].ready().messages }
                if messages.isEmpty { return }
                for message in messages {
                    if let target = nodes.firstIndex(where: { $0.id == message.to }) { nodes[target].step(message) }
                }
            }
        }
        settle(&nodes)
        for _ in 0..<200 where !nodes.contains(where: { $0.role == .leader }) {
            for i in nodes.indices { nodes[i].tick() }
            settle(&nodes)
        }
        var result: [RaftNode] = []
        if let leader = nodes.firstIndex(where: { $0.role == .leader }) {
            for round in 0..<5 {
                _ = try? nodes[leader].propose((0...round).map { [UInt8($0), 0xAB] })
                settle(&nodes)
            }
            result.append(nodes[leader])
        }
        result += nodes.filter { $0.role == .follower }
        // Isolated followers time out: node 3 (no pre-vote) becomes candidate, the others pre-candidates.
        for var node in nodes where node.role == .follower {
            for _ in 0..<100 where node.role == .follower {
                node.tick()
                _ = node.ready()
            }
            result.append(node)
        }
        result.append(RaftNode(configuration: configuration(NodeID(bytes: [UInt8](repeating: 0, count: 15) + [4]) ?? .random(), preVote: true)))
        return result
    }

    mutating func run(_ random: inout FuzzRandom) -> FuzzVerdict {
        var node = random.pick(baselines)
        var leaders: [Term: NodeID] = [:]
        if let leader = node.leader { leaders[node.term] = leader }
        for _ in 0..<(1 + random.below(4)) {
            let before = (term: node.term, commit: node.commitIndex, applied: node.appliedIndex)
            switch random.below(10) {
            case 0:
                node.tick()
            case 1, 2, 3, 4:
                // Through the codec: a valid encoding, mutated.
                let template = Self.message(to: node, hostile: random.oneIn(3), &random)
                let bytes = Mutator.input(valid: template.encoded(), donor: Self.message(to: node, hostile: false, &random).encoded(), random: &random)
                guard let decoded = try? RaftMessage(decoding: bytes) else { continue }
                guard (try? RaftMessage(decoding: decoded.encoded())) == decoded else {
                    return .violation("decode(encode(x)) != x for \(decoded)")
                }
                node.step(decoded)
            default:
                // Bypassing the codec: well-typed, hostile values.
                node.step(Self.message(to: node, hostile: !random.oneIn(4), &random))
            }
            if let reason = Self.check(&node, before: before, leaders: &leaders) { return .violation(reason) }
        }
        return .ok
    }

    /// Checks the node's state and its next ready; returns what is wrong, if anything.
    static func check(_ node: inout RaftNode, before: (term: Term, commit: LogIndex, applied: LogIndex), leaders: inout [Term: NodeID]) -> String? {
        if node.term < before.term { return "term decreased from \(before.term) to \(node.term)" }
        if node.term > Raft.maximumTerm { return "term \(node.term) above the maximum" }
        if node.commitIndex < before.commit { return "commit index decreased from \(before.commit) to \(node.commitIndex)" }
        let ready = node.ready()
        if node.commitIndex > node.lastIndex { return "commit index \(node.commitIndex) beyond the last index \(node.lastIndex)" }
        if node.appliedIndex > node.commitIndex { return "applied \(node.appliedIndex) beyond commit \(node.commitIndex)" }
        if node.snapshotIndex > node.commitIndex { return "snapshot \(node.snapshotIndex) beyond commit \(node.commitIndex)" }
        if let leader = node.leader {
            if let known = leaders[node.term], known != leader { return "two leaders in term \(node.term): \(known) and \(leader)" }
            leaders[node.term] = leader
        }
        if ready.snapshotToApply == nil, let first = ready.committedEntries.first, first.index != before.applied + 1 {
            return "committed entries start at \(first.index) after applied \(before.applied)"
        }
        for (offset, entry) in ready.committedEntries.enumerated() where entry.index != (ready.committedEntries.first?.index ?? 0) + LogIndex(offset) {
            return "committed entries not consecutive at \(entry.index)"
        }
        if node.lastIndex - node.snapshotIndex < 10_000 {
            var previous = node.term(at: node.snapshotIndex) ?? 0
            for index in node.firstIndex..<(node.lastIndex + 1) {
                guard let term = node.term(at: index) else { return "no term at \(index) within the log" }
                if term < previous { return "log terms decrease at \(index)" }
                if term > node.term { return "entry \(index) of term \(term) above the node's term \(node.term)" }
                previous = term
            }
        }
        for (peer, match) in node.matchIndexes where match > node.lastIndex {
            return "match index \(match) of \(peer) beyond the last index \(node.lastIndex)"
        }
        for message in ready.messages {
            if message.from != node.id { return "sent a message from \(message.from)" }
            if !message.isWellFormed { return "sent a message peers drop: \(message)" }
            if (try? RaftMessage(decoding: message.encoded())) != message { return "sent a message that does not round-trip: \(message)" }
        }
        return nil
    }

    /// A message to `node`: plausible values near its state, or hostile ones.
    static func message(to node: RaftNode, hostile: Bool, _ random: inout FuzzRandom) -> RaftMessage {
        func index(_ around: LogIndex) -> LogIndex {
            hostile && random.oneIn(2) ? random.integer(small: 32) : around &+ random.next() % 4 &- 2
        }
        let others = ids.filter { $0 != node.id }
        let from = random.oneIn(10) ? random.nodeID([]) : random.pick(others)
        let to = random.oneIn(12) ? random.nodeID(ids) : node.id
        let term = hostile && random.oneIn(2) ? random.integer(small: 8) : node.term &+ random.next() % 4 &- 1
        let body: RaftMessage.Body
        switch random.below(11) {
        case 0:
            let prevIndex = index(node.lastIndex)
            let prevTerm = hostile && random.oneIn(2) ? random.integer(small: 8) : (node.term(at: prevIndex) ?? term)
            var entries: [LogEntry] = []
            var entryTerm = max(prevTerm, 1)
            for offset in 0..<random.below(5) {
                if random.oneIn(3) { entryTerm = min(term, entryTerm &+ 1) }
                let entryIndex = hostile && random.oneIn(4) ? random.integer(small: 32) : prevIndex &+ LogIndex(offset) &+ 1
                let kind: EntryKind = random.pick([.normal, .normal, .noop, .membership])
                let data = kind == .membership ? Membership(voters: Set(others.prefix(1 + random.below(2))).union([node.id])).encoded() : random.bytes(random.below(8))
                entries.append(LogEntry(index: entryIndex, term: hostile && random.oneIn(4) ? random.integer(small: 8) : entryTerm, kind: kind, data: data))
            }
            body = .appendEntries(prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, commit: index(node.commitIndex &+ 1))
        case 1:
            body = .appendResponse(reject: random.oneIn(2), index: index(node.lastIndex), hintIndex: index(node.lastIndex), hintTerm: hostile ? random.integer(small: 8) : node.term)
        case 2:
            body = .heartbeat(commit: index(node.commitIndex &+ 1), readRound: random.integer(small: 8))
        case 3:
            body = .heartbeatResponse(readRound: random.integer(small: 8))
        case 4:
            body = .requestVote(lastIndex: index(node.lastIndex), lastTerm: hostile ? random.integer(small: 8) : node.term, preVote: random.oneIn(2), transfer: random.oneIn(4))
        case 5:
            body = .voteResponse(granted: !random.oneIn(4), preVote: random.oneIn(2))
        case 6:
            let voters = random.oneIn(8) ? Set<NodeID>() : Set(ids.prefix(1 + random.below(3)))
            let metadata = SnapshotMetadata(index: index(node.lastIndex &+ 2), term: hostile ? random.integer(small: 8) : max(1, term), membership: Membership(voters: voters))
            body = .installSnapshot(Snapshot(metadata: metadata, data: random.bytes(random.below(8))))
        case 7:
            body = .propose(commands: (0..<random.below(3)).map { _ in random.bytes(random.below(8)) })
        case 8:
            body = .readIndex(context: random.integer(small: 8))
        case 9:
            body = .readIndexResponse(index: index(node.commitIndex), context: random.integer(small: 8))
        default:
            body = .timeoutNow
        }
        return RaftMessage(from: from, to: to, term: term, body: body)
    }
}
