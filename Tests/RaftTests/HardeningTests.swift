import P2PCore
import Testing
@testable import Raft

/// Hostile values from a peer (or a corrupted disk) are refused or dropped, never a trap.
@Suite struct HardeningTests {
    static let ids = (1...3).map { TestCluster.id(UInt8($0)) }

    static func settledCluster() throws -> (TestCluster, leader: NodeID, follower: NodeID) {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let follower = cluster.ids.first { $0 != leader } ?? leader
        return (cluster, leader, follower)
    }

    /// Regression: a heartbeat with term UInt64.max trapped every server on `term + 1`.
    @Test func heartbeatWithMaximalTermIsDropped() throws {
        var (cluster, leader, follower) = try Self.settledCluster()
        let before = cluster.nodes[follower]?.term
        let hostile = RaftMessage(from: leader, to: follower, term: .max, body: .heartbeat(commit: .max, readRound: 0))
        #expect(throws: DecodingError.self) { try RaftMessage(decoding: hostile.encoded()) }
        cluster.nodes[follower]?.step(hostile)
        #expect(cluster.nodes[follower]?.term == before)
        cluster.tick(40)  // campaigns must still work
        #expect(cluster.leader != nil)
    }

    /// Regression: an installSnapshot at index UInt64.max trapped its target on `index + 1`.
    @Test func snapshotAtMaximalIndexIsDropped() throws {
        var (cluster, leader, follower) = try Self.settledCluster()
        let term = cluster.nodes[follower]?.term ?? 1
        for index: LogIndex in [.max, Raft.maximumIndex + 1, 0] {
            let snapshot = Snapshot(metadata: SnapshotMetadata(index: index, term: term, membership: Membership(voters: Set(Self.ids))), data: [])
            let message = RaftMessage(from: leader, to: follower, term: term, body: .installSnapshot(snapshot))
            #expect(!message.isWellFormed)
            cluster.nodes[follower]?.step(message)
            #expect(cluster.nodes[follower]?.snapshotIndex == 0)
        }
        #expect(throws: DecodingError.self) { try SnapshotMetadata(decoding: SnapshotMetadata(index: .max, term: 1, membership: Membership()).encoded()) }
    }

    /// Entries not consecutive after prevIndex (or with terms out of order) are dropped whole.
    @Test func inconsistentAppendEntriesAreDropped() throws {
        var (cluster, leader, follower) = try Self.settledCluster()
        guard let node = cluster.nodes[follower] else { return }
        let (term, last) = (node.term, node.lastIndex)
        let prevTerm = node.term(at: last) ?? 0
        let bad: [[LogEntry]] = [
            [LogEntry(index: last + 2, term: term)],
            [LogEntry(index: last + 1, term: term), LogEntry(index: last + 3, term: term)],
            [LogEntry(index: last + 1, term: term + 1)],
            [LogEntry(index: last + 1, term: term), LogEntry(index: last + 2, term: prevTerm == 0 ? 0 : term - 1)],
            [LogEntry(index: .max, term: term)],
        ]
        for entries in bad {
            cluster.nodes[follower]?.step(RaftMessage(from: leader, to: follower, term: term,
                                                      body: .appendEntries(prevIndex: last, prevTerm: prevTerm, entries: entries, commit: .max)))
            #expect(cluster.nodes[follower]?.lastIndex == last)
            #expect(cluster.nodes[follower]?.commitIndex ?? 0 <= last)
        }
        cluster.nodes[follower]?.step(RaftMessage(from: leader, to: follower, term: term,
                                                  body: .appendEntries(prevIndex: .max - 1, prevTerm: prevTerm, entries: [LogEntry(index: .max, term: term)], commit: 0)))
        #expect(cluster.nodes[follower]?.lastIndex == last)
    }

    /// A second node claiming the leadership of the follower's term is ignored.
    @Test func secondLeaderOfTheSameTermIsIgnored() throws {
        var (cluster, leader, follower) = try Self.settledCluster()
        let other = cluster.ids.first { $0 != leader && $0 != follower } ?? leader
        let term = cluster.nodes[follower]?.term ?? 0
        cluster.nodes[follower]?.step(RaftMessage(from: other, to: follower, term: term, body: .heartbeat(commit: 0, readRound: 0)))
        #expect(cluster.nodes[follower]?.leader == leader)
    }

    /// Acknowledgements beyond the leader's log, and answers from strangers, are dropped.
    @Test func leaderDropsImpossibleResponses() throws {
        var (cluster, leader, follower) = try Self.settledCluster()
        guard let before = cluster.nodes[leader] else { return }
        cluster.nodes[leader]?.step(RaftMessage(from: follower, to: leader, term: before.term,
                                                body: .appendResponse(reject: false, index: before.lastIndex + 5, hintIndex: 0, hintTerm: 0)))
        #expect(cluster.nodes[leader]?.matchIndexes[follower] ?? 0 <= before.lastIndex)
        let stranger = TestCluster.id(99)
        cluster.nodes[leader]?.step(RaftMessage(from: stranger, to: leader, term: before.term + 5, body: .heartbeatResponse(readRound: 0)))
        #expect(cluster.nodes[leader]?.role == .leader)
        #expect(cluster.nodes[leader]?.term == before.term)
    }

    /// Regression: a term of UInt64.max was persisted and trapped the node again at every restart.
    @Test func restoringAnOutOfBoundsTermFallsBackToTheLog() {
        let voters = Set(Self.ids)
        let entries = [LogEntry(index: 1, term: 1, kind: .membership, data: Membership(voters: voters).encoded()), LogEntry(index: 2, term: 3)]
        let persisted = PersistedState(hardState: HardState(term: .max, vote: Self.ids[1], commit: 2), snapshot: nil, entries: entries)
        var node = RaftNode(configuration: TestCluster.configuration(Self.ids[0]), restoring: persisted)
        #expect(node.term == 3)
        #expect(node.vote == nil)
        let ready = node.ready()
        #expect(ready.hardState?.term == 3)
        for _ in 0..<100 { node.tick() }
        #expect(node.role == .preCandidate)  // it campaigns again
        #expect(node.ready().messages.contains { if case .requestVote = $0.body { $0.term == 4 } else { false } })
    }

    /// A stored log with a gap, a term past the bound or decreasing terms keeps only its good prefix.
    @Test func restoringACorruptedLogKeepsTheWellFormedPrefix() {
        let voters = Set(Self.ids)
        let entries = [
            LogEntry(index: 1, term: 1, kind: .membership, data: Membership(voters: voters).encoded()),
            LogEntry(index: 2, term: 2), LogEntry(index: 3, term: .max), LogEntry(index: 4, term: 2),
        ]
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: .max, term: .max, membership: Membership(voters: voters)), data: [])
        var node = RaftNode(configuration: TestCluster.configuration(Self.ids[0]),
                            restoring: PersistedState(hardState: HardState(term: 2, commit: .max), snapshot: snapshot, entries: entries))
        #expect(node.snapshotIndex == 0)
        #expect(node.lastIndex == 2)
        #expect(node.commitIndex == 2)
        #expect(node.ready().truncateFrom == 3)
    }

    /// The codec refuses every term and index above the bounds.
    @Test func codecRefusesOutOfBoundsValues() {
        let (a, b) = (Self.ids[0], Self.ids[1])
        let big = Raft.maximumTerm + 1
        let bodies: [RaftMessage.Body] = [
            .appendEntries(prevIndex: big, prevTerm: 1, entries: [], commit: 0),
            .appendEntries(prevIndex: 0, prevTerm: 0, entries: [LogEntry(index: 1, term: big)], commit: 0),
            .appendResponse(reject: true, index: 1, hintIndex: big, hintTerm: 0),
            .heartbeat(commit: big, readRound: 0),
            .requestVote(lastIndex: big, lastTerm: 1, preVote: false, transfer: false),
        ]
        for body in bodies {
            #expect(throws: DecodingError.self) { try RaftMessage(decoding: RaftMessage(from: a, to: b, term: 1, body: body).encoded()) }
        }
        #expect(throws: DecodingError.self) { try RaftMessage(decoding: RaftMessage(from: a, to: b, term: big, body: .timeoutNow).encoded()) }
        #expect(throws: DecodingError.self) { try HardState(decoding: HardState(term: big).encoded()) }
        #expect(throws: DecodingError.self) { try LogEntry(index: big, term: 1, decodingPayload: LogEntry(index: 1, term: 1).encodedPayload()) }
        let atBound = RaftMessage(from: a, to: b, term: Raft.maximumTerm, body: .heartbeat(commit: Raft.maximumIndex, readRound: 0))
        #expect((try? RaftMessage(decoding: atBound.encoded())) == atBound)
    }

    /// A node at the maximal term stops campaigning instead of overflowing.
    @Test func nodeNeverCampaignsPastTheMaximalTerm() {
        var node = RaftNode.bootstrap(configuration: TestCluster.configuration(Self.ids[0]), voters: Set(Self.ids))
        _ = node.ready()
        node.step(RaftMessage(from: Self.ids[1], to: Self.ids[0], term: Raft.maximumTerm, body: .heartbeat(commit: 0, readRound: 0)))
        #expect(node.term == Raft.maximumTerm)
        for _ in 0..<200 { node.tick() }
        #expect(node.term == Raft.maximumTerm)
    }

    /// Found by `p2pcore-fuzz --target raft-step --seed 1 --first 485058 --count 1`: a node whose
    /// log reached `maximumIndex` answered a mismatch with hint `commitIndex + 1`, above the bound,
    /// which peers drop. The hint is now at most the rejected index.
    @Test func rejectionHintsStayWithinBounds() {
        let (me, leader) = (Self.ids[0], Self.ids[1])
        var node = RaftNode(configuration: TestCluster.configuration(me))
        let top = Raft.maximumIndex
        node.step(RaftMessage(from: leader, to: me, term: 3, body: .installSnapshot(Snapshot(
            metadata: SnapshotMetadata(index: top, term: 2, membership: Membership(voters: Set(Self.ids))), data: []))))
        _ = node.ready()
        #expect(node.commitIndex == top)
        node.step(RaftMessage(from: leader, to: me, term: 3, body: .appendEntries(prevIndex: top, prevTerm: 3, entries: [], commit: top)))
        let answers = node.ready().messages
        #expect(!answers.isEmpty)
        #expect(answers.allSatisfy { $0.isWellFormed })
    }
}
