import AdminProtocol
import Mailbox
import P2PCore
import Raft
import Testing
import Transport
@testable import P2PServer

/// The one message type between servers, and the frame-type registry it travels under.
@Suite struct PeerMessageTests {
    let a = NodeID.random()
    let b = NodeID.random()

    @Test func everyKindOfMessageRoundTrips() throws {
        let messages: [PeerMessage] = [
            .hello(ServerHello(address: "10.0.0.1:7400", isMember: true, configuredPeers: 2, formedVoters: [a])),
            .raft(RaftMessage(from: a, to: b, term: 3, body: .readIndex(context: 9))),
            .request(7, .commit(.registerServer(id: a, address: "10.0.0.1:7400"))),
            .request(8, .admin(.status)),
            .reply(7, .committed(.done)),
            .reply(8, .retry("no leader")),
            .connectServer(ServerConnectRequest(target: b, address: "10.0.0.2:7400")),
            .relay(to: b, .request(9, .admin(.serverStatus))),
            .relayed(from: a, .raft(RaftMessage(from: a, to: b, term: 3, body: .propose(commands: [[1, 2]])))),
            .snapshot(.begin(stream: 5, term: 3, metadata: SnapshotMetadata(index: 40, term: 2, membership: Membership(voters: [a], learners: [b])))),
            .snapshot(.chunk(stream: 5, sequence: 1, records: [0, 1, 2], total: nil)),
            .snapshot(.chunk(stream: 5, sequence: 2, records: [], total: 17)),
            .snapshot(.ack(stream: 5, sequence: 2)),
            .snapshot(.abort(stream: 5, reason: "stalled")),
            .relay(to: b, .snapshot(.ack(stream: 5, sequence: 0))),
        ]
        for message in messages {
            #expect(try PeerMessage(decoding: message.encoded()) == message)
        }
    }

    @Test func snapshotChunksAndReasonsAreBounded() {
        var chunk = ByteWriter()
        chunk.write(UInt8(11))  // PeerMessage: snapshot
        chunk.write(UInt8(2))  // chunk
        chunk.write(UInt64(5))
        chunk.write(UInt64(1))
        chunk.write(false)
        chunk.write(lengthPrefixed: [UInt8](repeating: 0, count: SnapshotTransfer.maximumChunkBytes + 1))
        #expect(throws: DecodingError.self) { try PeerMessage(decoding: chunk.bytes) }
        var abort = ByteWriter()
        abort.write(UInt8(11))
        abort.write(UInt8(4))
        abort.write(UInt64(5))
        abort.write(lengthPrefixed: [UInt8](repeating: 65, count: 5_000))
        #expect(throws: DecodingError.self) { try PeerMessage(decoding: abort.bytes) }
        var unknown = ByteWriter()
        unknown.write(UInt8(11))
        unknown.write(UInt8(9))
        unknown.write(UInt64(5))
        #expect(throws: DecodingError.self) { try PeerMessage(decoding: unknown.bytes) }
    }

    @Test func aRelayCarriesNoRelayAndNoBookkeeping() {
        let nested = PeerMessage.relay(to: a, .relayed(from: b, .hello(ServerHello(address: "x", isMember: false, configuredPeers: 0))))
        #expect(throws: DecodingError.self) { try PeerMessage(decoding: nested.encoded()) }
        let connect = PeerMessage.relay(to: a, .connectServer(ServerConnectRequest(target: nil, address: "x")))
        #expect(throws: DecodingError.self) { try PeerMessage(decoding: connect.encoded()) }
    }

    @Test func aNonMemberMayOnlyAskToRegisterItself() {
        #expect(PeerMesh.isOwnRegistration(.commit(.registerServer(id: a, address: "x")), by: a))
        #expect(!PeerMesh.isOwnRegistration(.commit(.registerServer(id: b, address: "x")), by: a))
        #expect(!PeerMesh.isOwnRegistration(.commit(.purge(recipient: b)), by: a))
        #expect(!PeerMesh.isOwnRegistration(.admin(.status), by: a))
    }

    @Test func frameTypesOfDifferentLinkKindsNeverShareANumber() {
        // Raw values are unique by construction; every one is an application type.
        #expect(FrameType.allCases.allSatisfy { $0.rawValue >= Link.firstApplicationType })
        #expect(FrameType.isServerFrame(FrameType.serverPeer.rawValue))
        #expect(!FrameType.isServerFrame(FrameType.clientRequest.rawValue))
        #expect(Set(FrameType.allCases.map(\.rawValue)).count == FrameType.allCases.count)
    }
}
