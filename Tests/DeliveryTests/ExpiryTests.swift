import Delivery
import MessageModel
import P2PCore
import Testing

/// Expiry in the pure core (docs/DELIVERY.md, "Expiry"): a message with an expiry stays on the
/// relay, ends `expired` only on the cluster's word, and is delivered only once claimed.
@Suite struct ExpiryTests {
    let alice = NodeID.random()
    let bob = NodeID.random()
    let server = NodeID.random()

    private func connected(direct: Bool = false) -> CoreHarness {
        var harness = CoreHarness()
        harness.feed(.serverConnected(server))
        if direct { harness.feed(.directPeers([bob])) }
        _ = harness.take()
        return harness
    }

    private func expiring(_ sequence: UInt64, at expiry: UInt64, to recipient: NodeID) -> MailMessage {
        MailMessage(
            id: MessageID(sender: alice, sequence: sequence), recipient: recipient, payload: [UInt8(sequence)],
            enqueuedAtMillis: 0, expiresAtMillis: expiry
        )
    }

    private func finished(_ directives: [ClientCore.Directive]) -> [Result<MessageID, SendFailure>] {
        directives.compactMap { if case .finishSend(_, let result) = $0 { result } else { nil } }
    }

    // MARK: Sending

    @Test func anExpiringMessageGoesThroughTheRelayEvenWithADirectPath() {
        var harness = connected(direct: true)
        harness.feed(.send(SendToken(1), to: bob, payload: [7], timeout: 10_000, expiresAt: 5_000))
        #expect(harness.operations == [.prepare(recipient: bob, payload: [7], expiresAt: 5_000)], "the expiry is durable with the message")
        let id = MessageID(sender: harness.me, sequence: 1)
        let sent = MailMessage(id: id, recipient: bob, payload: [7], enqueuedAtMillis: 0, expiresAtMillis: 5_000)
        #expect(harness.take() == [.relay(sent, to: server)])
    }

    @Test func aPendingMessageEndsExpiredOnlyOnTheClustersWord() {
        var harness = connected()
        harness.feed(.send(SendToken(1), to: bob, payload: [7], timeout: 60_000, expiresAt: 1_000))
        _ = harness.take()
        let key = OutboxKey(recipient: bob, id: MessageID(sender: harness.me, sequence: 1))
        harness.advance(to: 5_000)
        #expect(finished(harness.take()).isEmpty, "its own clock never makes the sender say expired")
        #expect(harness.core.outstanding == [key], "still retried until the cluster decides")
        harness.feed(.relayAnswer(key, from: server, .expired))
        #expect(finished(harness.take()) == [.failure(.expired(key.id))])
        #expect(harness.operations.last == .resolve(key))
        #expect(harness.core.outstanding.isEmpty)
    }

    @Test func aStoredMessageEndsExpiredOnTheExpiryReceipt() {
        var harness = connected()
        harness.feed(.send(SendToken(1), to: bob, payload: [7], timeout: 60_000, expiresAt: 1_000))
        let key = OutboxKey(recipient: bob, id: MessageID(sender: harness.me, sequence: 1))
        harness.feed(.relayAnswer(key, from: server, .stored))
        _ = harness.take()
        harness.feed(.expiryReceipt(recipient: bob, id: key.id))
        #expect(finished(harness.take()) == [.failure(.expired(key.id))])
        harness.feed(.receipt(recipient: bob, id: key.id))
        #expect(harness.take().isEmpty, "one fate per message")
    }

    @Test func aMessageRelayedOnceNeverGoesDirectAfterwards() {
        var harness = connected()
        harness.feed(.send(SendToken(1), to: bob, payload: [7], timeout: 60_000))
        _ = harness.take()
        harness.feed(.directPeers([bob]))
        let key = OutboxKey(recipient: bob, id: MessageID(sender: harness.me, sequence: 1))
        harness.feed(.relayFailed(key, server: server))
        harness.advance(by: 1_000)
        let directives = harness.take()
        #expect(!directives.contains { if case .sendDirect = $0 { true } else { false } }, "a server may have given the stored copy a default expiry")
        #expect(directives.contains { if case .relay = $0 { true } else { false } })
    }

    @Test func aRelayedCopyOfADirectOfferSaysSo() {
        var harness = connected(direct: true)
        harness.feed(.send(SendToken(1), to: bob, payload: [7], timeout: 60_000))
        #expect(harness.take().contains { if case .sendDirect = $0 { true } else { false } })
        harness.advance(by: ClientCore.Configuration().attemptTimeout)
        let relayed = harness.take().compactMap { if case .relay(let message, _) = $0 { message } else { nil } }
        #expect(relayed.map(\.offeredDirectly) == [true], "no server may give it a default expiry: the recipient may have it")
    }

    // MARK: Receiving

    @Test func anExpiringMessageIsClaimedBeforeItIsDelivered() {
        var harness = connected()
        harness.feed(.relayedMessage(expiring(1, at: 10_000, to: harness.me), from: server))
        #expect(harness.take().isEmpty, "nothing is claimed while nobody receives")
        harness.feed(.receive)
        let id = MessageID(sender: alice, sequence: 1)
        #expect(harness.take() == [.claim(id, to: server)])
        #expect(harness.operations.isEmpty, "not recorded delivered before the claim is granted")
        harness.feed(.claimAnswer(id, from: server, .claimed))
        #expect(harness.take() == [.handOver(expiring(1, at: 10_000, to: harness.me)), .acknowledgeRelayed(id, to: server)])
        #expect(harness.core.deliveredThrough(alice) == 1)
    }

    @Test func anExpiredMessageIsPassedOverAndTheNextOneDeliveredInOrder() {
        var harness = connected()
        harness.feed(.relayedMessage(expiring(1, at: 1_000, to: harness.me), from: server))
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 2), from: server))
        harness.feed(.receive)
        let first = MessageID(sender: alice, sequence: 1)
        #expect(harness.take() == [.claim(first, to: server)])
        harness.feed(.claimAnswer(first, from: server, .expired))
        let directives = harness.take()
        let handed = directives.compactMap { if case .handOver(let message) = $0 { message.id.sequence } else { nil } }
        #expect(handed == [2], "the expired one never reaches the application; the next one does, in order")
        #expect(directives.first == .acknowledgeRelayed(first, to: server), "the expired one is acknowledged as a skip")
        #expect(harness.operations.prefix(2) == [.markDelivered(first), .markDelivered(MessageID(sender: alice, sequence: 2))])
    }

    @Test func anUnansweredClaimIsAskedAgain() {
        var harness = connected()
        harness.feed(.relayedMessage(expiring(1, at: 10_000, to: harness.me), from: server))
        harness.feed(.receive)
        let id = MessageID(sender: alice, sequence: 1)
        #expect(harness.take() == [.claim(id, to: server)])
        harness.feed(.claimAnswer(id, from: server, .unavailable))
        #expect(harness.take().isEmpty)
        harness.advance(by: ClientCore.Configuration().longestRetry)
        #expect(harness.take() == [.claim(id, to: server)])
        harness.advance(by: ClientCore.Configuration().attemptTimeout)
        #expect(harness.take() == [.claim(id, to: server)], "no answer in time: asked again")
    }

    @Test func aDirectCopyCarryingAnExpiryIsRefused() {
        var harness = connected()
        harness.feed(.directMessage(expiring(1, at: 10_000, to: harness.me), link: DirectLinkID(1)))
        harness.feed(.receive)
        #expect(harness.take().isEmpty, "its fate is the cluster's: only the relayed copy counts")
    }
}
