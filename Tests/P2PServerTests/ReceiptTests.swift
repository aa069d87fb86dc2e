import ClientProtocol
import LMDB
import Mailbox
import MessageModel
import P2PCore
import Testing
import TestSupport
import Transport
import WireCodec
@testable import P2PServer

/// Receipts off the critical path (docs/DELIVERY.md, "Receipts"): what a server checks before
/// it passes an acknowledgement on, how receipts travel between servers, and that a sender hears
/// each of its messages delivered once, from the server it sent it through.
@Suite struct ReceiptTests {
    let alice = NodeID.random()
    let bob = NodeID.random()

    @Test func receiptsRoundTripBetweenServersAndAFloodIsRefused() throws {
        let receipts = (1...3).map { DeliveryReceipt(recipient: bob, id: MessageID(sender: alice, sequence: UInt64($0))) }
        #expect(try PeerMessage(decoding: PeerMessage.receipts(receipts).encoded()) == .receipts(receipts))
        let flood = Array(repeating: receipts[0], count: DeliveryReceipt.maximumPerMessage + 1)
        #expect(throws: DecodingError.self) { try PeerMessage(decoding: PeerMessage.receipts(flood).encoded()) }
    }

    @Test func onlyAMessageTheMailboxHoldsIsVouchedFor() throws {
        let scratch = TemporaryDirectory("receipt-store")
        var configuration = Environment.Configuration()
        configuration.syncOnCommit = false
        let environment = try Environment(path: scratch.path, configuration: configuration)
        defer { environment.close() }
        let store = try MailboxStore(environment: environment)
        let first = MessageID(sender: alice, sequence: 1), second = MessageID(sender: alice, sequence: 2)
        let commands: [MailboxCommand] = [
            .register(ClientRecord(id: bob, publicKey: [1])),
            .enqueue(MailMessage(id: first, recipient: bob, payload: [1], enqueuedAtMillis: 1)),
            .enqueue(MailMessage(id: second, recipient: bob, payload: [], enqueuedAtMillis: 2, isSkip: true)),
        ]
        _ = try store.apply(commands.enumerated().map { MailboxStore.Entry(index: UInt64($0.offset + 1), term: 1, command: $0.element.encoded()) })
        #expect(try store.holdsMessage(first, for: bob))
        #expect(try !store.holdsMessage(second, for: bob), "a skip delivers nothing")
        #expect(try !store.holdsMessage(first, for: alice), "only the recipient's own mailbox counts")
        _ = try store.apply([MailboxStore.Entry(index: 4, term: 1, command: MailboxCommand.acknowledge(recipient: bob, id: first).encoded())])
        #expect(try !store.holdsMessage(first, for: bob), "acknowledged mail has left the mailbox")
    }

    @Test func batchesOfCommandsAndOutcomesRoundTripAndStayFlat() throws {
        let enqueue = MailboxCommand.enqueue(MailMessage(id: MessageID(sender: alice, sequence: 1), recipient: bob, payload: [7], enqueuedAtMillis: 1))
        let batch = MailboxCommand.batch([enqueue, .acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1))])
        #expect(try MailboxCommand(decoding: batch.encoded()) == batch)
        #expect(throws: DecodingError.self) { try MailboxCommand(decoding: MailboxCommand.batch([batch]).encoded()) }
        let outcome = MailboxOutcome.batch([.stored, .done])
        var writer = ByteWriter()
        outcome.encode(into: &writer)
        var reader = ByteReader(writer.bytes)
        #expect(try MailboxOutcome.decode(from: &reader) == outcome)
    }

    @Test func theOutboxBatchesABurstPerServer() async throws {
        let (sent, continuation) = AsyncStream<(PeerMessage, NodeID)>.makeStream()
        let outbox = ReceiptOutbox { message, server in continuation.yield((message, server)) }
        let serverA = NodeID.random(), serverB = NodeID.random()
        let receipts = (1...50).map { DeliveryReceipt(recipient: bob, id: MessageID(sender: alice, sequence: UInt64($0))) }
        for receipt in receipts {
            outbox.add(receipt, for: serverA)
            outbox.add(receipt, for: serverB)
        }
        var got: [NodeID: [DeliveryReceipt]] = [:]
        var messages = 0
        for await (message, server) in sent {
            guard case .receipts(let list) = message else { Issue.record("unexpected \(message)"); return }
            got[server, default: []].append(contentsOf: list)
            messages += 1
            if got[serverA]?.count == 50 && got[serverB]?.count == 50 { break }
        }
        #expect(got[serverA] == receipts && got[serverB] == receipts, "every receipt, in order, to each server")
        #expect(messages == 2, "a burst queued before the flush runs goes as one message per server")
    }

    @Test func aSenderHearsDeliveredOnceAndOnlyForWhatItSentHere() async throws {
        let scratch = TemporaryDirectory("receipt-session")
        var environmentConfiguration = Environment.Configuration()
        environmentConfiguration.syncOnCommit = false
        let environment = try Environment(path: scratch.path, configuration: environmentConfiguration)
        defer { environment.close() }
        let store = try MailboxStore(environment: environment)
        var configuration = LinkConfiguration(identity: .ephemeral(), secret: "receipt-secret")
        configuration.handshakeTimeout = .seconds(30)
        let listener = try await LinkListener.bind(host: "127.0.0.1", port: 0, configuration: configuration, onFailure: { _ in })
        defer { listener.close() }
        let aliceSide = try await LinkDialer.connect(host: "127.0.0.1", port: listener.port, configuration: configuration)
        defer { aliceSide.close() }
        var accepted = listener.links.makeAsyncIterator()
        let serverSide = try #require(await accepted.next())
        let session = ClientSession(client: alice, link: serverSide, store: store)

        let sent = DeliveryReceipt(recipient: bob, id: MessageID(sender: alice, sequence: 1))
        let notSentHere = DeliveryReceipt(recipient: bob, id: MessageID(sender: alice, sequence: 2))
        let refused = DeliveryReceipt(recipient: bob, id: MessageID(sender: alice, sequence: 3))
        await session.awaitReceipts([sent, refused])
        await session.finishSends([(request: 7, receipt: refused, result: .mailboxFull), (request: 8, receipt: sent, result: .stored)])
        // Early, then again when the acknowledgement commits; plus two it must not pass on.
        await session.pushReceipts([notSentHere, sent, refused])
        await session.pushReceipts([sent])
        await session.push(.refused(reason: "end of test"))

        var pushes: [ServerPush] = []
        for try await frame in aliceSide.inbound {
            let push = try ServerPush(decoding: frame.bytes)
            pushes.append(push)
            if case .refused = push { break }
        }
        #expect(pushes == [
            .sendResult(request: 7, .mailboxFull), .sendResult(request: 8, .stored),
            .delivered(recipient: bob, id: sent.id), .refused(reason: "end of test"),
        ])
    }
}
