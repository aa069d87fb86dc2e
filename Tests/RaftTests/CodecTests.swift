import P2PCore
import Testing
@testable import Raft

@Suite struct CodecTests {
    static let a = TestCluster.id(1)
    static let b = TestCluster.id(2)
    static let entries = [LogEntry(index: 5, term: 2, kind: .normal, data: [1, 2, 3]), LogEntry(index: 6, term: 2, kind: .noop)]
    static let snapshot = Snapshot(metadata: SnapshotMetadata(index: 9, term: 3, membership: Membership(voters: [a, b], learners: [TestCluster.id(3)])), data: [7, 7])
    static let bodies: [RaftMessage.Body] = [
        .appendEntries(prevIndex: 4, prevTerm: 1, entries: entries, commit: 3),
        .appendResponse(reject: true, index: 4, hintIndex: 2, hintTerm: 1),
        .heartbeat(commit: 8, readRound: 3),
        .heartbeatResponse(readRound: 3),
        .propose(commands: [[1, 2], []]),
        .readIndex(context: 9),
        .readIndexResponse(index: 7, context: 9),
        .requestVote(lastIndex: 10, lastTerm: 3, preVote: true, transfer: false),
        .voteResponse(granted: true, preVote: false),
        .installSnapshot(snapshot),
        .timeoutNow,
    ]

    @Test func everyMessageRoundTrips() throws {
        for body in Self.bodies {
            let message = RaftMessage(from: Self.a, to: Self.b, term: 4, body: body)
            #expect(try RaftMessage(decoding: message.encoded()) == message)
        }
    }

    @Test func truncatedMessagesThrowAndNeverTrap() {
        for body in Self.bodies {
            let bytes = RaftMessage(from: Self.a, to: Self.b, term: 4, body: body).encoded()
            for length in 0..<bytes.count {
                #expect(throws: DecodingError.self) { try RaftMessage(decoding: Array(bytes.prefix(length))) }
            }
            #expect(throws: DecodingError.self) { try RaftMessage(decoding: bytes + [0]) }
        }
    }

    @Test func stateTypesRoundTrip() throws {
        let hard = HardState(term: 7, vote: Self.a, commit: 99)
        #expect(try HardState(decoding: hard.encoded()) == hard)
        #expect(try HardState(decoding: HardState().encoded()) == HardState())
        #expect(try SnapshotMetadata(decoding: Self.snapshot.metadata.encoded()) == Self.snapshot.metadata)
        for entry in Self.entries {
            #expect(try LogEntry(index: entry.index, term: entry.term, decodingPayload: entry.encodedPayload()) == entry)
        }
        #expect(throws: DecodingError.self) { try LogEntry(index: 1, term: 1, decodingPayload: [9, 0, 0, 0, 0]) }
    }

    @Test func membershipEncodingIsDeterministic() {
        let ids = (1...9).map { TestCluster.id(UInt8($0)) }
        #expect(Membership(voters: Set(ids)).encoded() == Membership(voters: Set(ids.reversed())).encoded())
    }
}
