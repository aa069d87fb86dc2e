import ClientProtocol
import Foundation
import LMDB
import Mailbox
import MessageModel
import P2PCore
import Testing
import TestSupport
import Transport
import WireCodec
@testable import P2PServer

/// Regression (found by a 30-minute p2pcore-chaos run with direct tunnels): a recipient stopped
/// receiving for good. Its mailbox held hundreds of messages of one sender that had arrived
/// before an earlier one of the same sender (relayed only after its direct attempt timed out);
/// the client held them back, waiting for that earlier one, and the push window — filled in
/// arrival order — never reached it.
@Suite struct ClientSessionTests {
    @Test func aStaleWindowOffersEachSendersLowestSequenceFirst() async throws {
        let scratch = TemporaryDirectory("session")
        let path = scratch.path
        var environmentConfiguration = Environment.Configuration()
        environmentConfiguration.syncOnCommit = false
        let environment = try Environment(path: path, configuration: environmentConfiguration)
        defer { environment.close() }
        let store = try MailboxStore(environment: environment)
        let alice = NodeID.random(), bob = NodeID.random()
        var commands: [MailboxCommand] = [.register(ClientRecord(id: bob, publicKey: [1]))]
        // Alice's 2…20 arrive first, her 1 last.
        for sequence in Array(UInt64(2)...20) + [1] {
            commands.append(.enqueue(MailMessage(id: MessageID(sender: alice, sequence: sequence), recipient: bob, payload: [UInt8(sequence)], enqueuedAtMillis: sequence)))
        }
        _ = try store.apply(commands.enumerated().map { MailboxStore.Entry(index: UInt64($0.offset + 1), term: 1, command: $0.element.encoded()) })

        // A link standing in for bob's: the server side is the accepted end.
        let secret = "session-secret"
        var configuration = LinkConfiguration(identity: .ephemeral(), secret: secret)
        configuration.handshakeTimeout = .seconds(30)  // the suite runs many tests at once on two cores
        let listener = try await LinkListener.bind(host: "127.0.0.1", port: 0, configuration: configuration, onFailure: { _ in })
        defer { listener.close() }
        var bobConfiguration = LinkConfiguration(identity: .ephemeral(), secret: secret)
        bobConfiguration.handshakeTimeout = .seconds(30)
        let bobSide = try await LinkDialer.connect(host: "127.0.0.1", port: listener.port, configuration: bobConfiguration)
        defer { bobSide.close() }
        var accepted = listener.links.makeAsyncIterator()
        let serverSide = try #require(await accepted.next())
        var pushes = bobSide.inbound.makeAsyncIterator()
        func nextPushed() async throws -> UInt64? {
            guard let frame = try await pushes.next(), case .deliver(let message) = try ServerPush(decoding: frame.bytes) else { return nil }
            return message.id.sequence
        }

        let session = ClientSession(client: bob, link: serverSide, store: store, window: 4)
        await session.setSubscribed(true)
        var first: [UInt64] = []
        for _ in 0..<4 { first.append(try #require(try await nextPushed())) }
        #expect(first == [2, 3, 4, 5], "the window is filled in arrival order")

        // Nothing is acknowledged (bob waits for 1): once stale, 1 must come first.
        await session.rewindIfStale(patience: .zero)
        #expect(try await nextPushed() == 1, "the rewound window did not start with the sender's lowest sequence")
    }
}
