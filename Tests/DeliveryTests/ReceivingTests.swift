import Delivery
import MessageModel
import P2PCore
import Testing

@Suite struct ReceivingTests {
    let alice = NodeID.random()
    let server = NodeID.random()

    private func receiver() -> CoreHarness {
        var harness = CoreHarness()
        harness.feed(.serverConnected(server))
        _ = harness.take()
        return harness
    }

    private func handedOver(_ directives: [ClientCore.Directive]) -> [UInt64] {
        directives.compactMap { if case .handOver(let message) = $0 { message.id.sequence } else { nil } }
    }

    @Test func deliversInOrderOnlyAfterTheDeliveryIsDurableThenAcknowledges() {
        var harness = receiver()
        harness.holdWrites = true
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 2), from: server))
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 1), from: server))
        harness.feed(.receive)
        #expect(harness.take().isEmpty, "nothing reaches the application before markDelivered is durable")
        #expect(harness.held.map(\.operations) == [[.markDelivered(MessageID(sender: alice, sequence: 1))]])
        harness.holdWrites = false
        harness.releaseHeld()
        let id1 = MessageID(sender: alice, sequence: 1)
        #expect(harness.take() == [.handOver(message(from: alice, to: harness.me, 1)), .acknowledgeRelayed(id1, to: server)])
        harness.feed(.receive)
        #expect(handedOver(harness.take()) == [2])
        #expect(harness.core.deliveredThrough(alice) == 2)
    }

    @Test func onlyOneMessageIsHandedPerReceive() {
        var harness = receiver()
        for sequence in 1...3 { harness.feed(.relayedMessage(message(from: alice, to: harness.me, UInt64(sequence)), from: server)) }
        #expect(harness.take().isEmpty, "nothing is delivered while nobody receives")
        harness.feed(.receive)
        #expect(handedOver(harness.take()) == [1])
        harness.feed(.receive)
        harness.feed(.receive)
        #expect(handedOver(harness.take()) == [2, 3])
    }

    @Test func aBatchIsRecordedInOneLedgerBatchAndHandedOverInOneStep() {
        var harness = receiver()
        harness.holdWrites = true
        for sequence in 1...5 { harness.feed(.relayedMessage(message(from: alice, to: harness.me, UInt64(sequence)), from: server)) }
        harness.feed(.receiveBatch(upTo: 3))
        #expect(harness.take().isEmpty, "nothing reaches the application before the batch is durable")
        #expect(harness.held.map(\.operations) == [(1...3).map { .markDelivered(MessageID(sender: alice, sequence: UInt64($0))) }],
                "one ledger batch (one sync) for the whole batch, no more than asked for")
        harness.holdWrites = false
        harness.releaseHeld()
        let step = harness.take()
        #expect(handedOver(step) == [1, 2, 3])
        #expect(step.filter { if case .acknowledgeRelayed = $0 { true } else { false } }.count == 3)
        #expect(harness.core.deliveredThrough(alice) == 3)
        harness.feed(.receiveBatch(upTo: 10))
        #expect(handedOver(harness.take()) == [4, 5], "a batch holds what has arrived, without waiting to fill up")
    }

    @Test func deliveriesRecordedForABatchThatWasCancelledGoToTheNextReceiveOneByOne() {
        var harness = receiver()
        harness.holdWrites = true
        for sequence in 1...3 { harness.feed(.relayedMessage(message(from: alice, to: harness.me, UInt64(sequence)), from: server)) }
        harness.feed(.receiveBatch(upTo: 3))
        harness.feed(.receiveCancelled)
        harness.holdWrites = false
        harness.releaseHeld()
        #expect(handedOver(harness.take()).isEmpty, "nobody waits: the durable deliveries wait too")
        harness.feed(.receive)
        #expect(handedOver(harness.take()) == [1], "a single receive gets one")
        harness.feed(.receiveBatch(upTo: 5))
        #expect(handedOver(harness.take()) == [2, 3])
        #expect(harness.core.deliveredThrough(alice) == 3)
    }

    @Test func duplicatesAreAcknowledgedOnThePathTheyCameBy() {
        var harness = receiver()
        let link = DirectLinkID(7)
        harness.feed(.directMessage(message(from: alice, to: harness.me, 1), link: link))
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 1), from: server))  // second copy while queued: dropped
        harness.feed(.receive)
        let id = MessageID(sender: alice, sequence: 1)
        #expect(harness.take() == [.handOver(message(from: alice, to: harness.me, 1)), .acknowledgeDirect(id, on: link)])
        let other = NodeID.random()
        harness.feed(.serverConnected(other))
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 1), from: other))
        harness.feed(.directMessage(message(from: alice, to: harness.me, 1), link: DirectLinkID(8)))
        #expect(harness.take() == [.acknowledgeRelayed(id, to: other), .acknowledgeDirect(id, on: DirectLinkID(8))])
        #expect(harness.operations == [.markDelivered(id)], "a duplicate is never delivered again")
    }

    @Test func skipsAdvanceWithoutReachingTheApplication() {
        var harness = receiver()
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 1, skip: true), from: server))
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 2), from: server))
        let skipID = MessageID(sender: alice, sequence: 1)
        #expect(harness.take() == [.acknowledgeRelayed(skipID, to: server)], "a skip is recorded and acknowledged without a receiver")
        harness.feed(.receive)
        #expect(handedOver(harness.take()) == [2])
        // A skip on a direct link is not believed.
        harness.feed(.directMessage(message(from: alice, to: harness.me, 3, skip: true), link: DirectLinkID(1)))
        harness.feed(.receive)
        #expect(harness.take().isEmpty)
    }

    @Test func theEarlyBufferIsBoundedButTheAwaitedMessageAlwaysFits() {
        var configuration = ClientCore.Configuration()
        configuration.earlyLimit = 4
        var harness = CoreHarness(configuration: configuration)
        harness.feed(.serverConnected(server))
        for sequence in 2...10 { harness.feed(.relayedMessage(message(from: alice, to: harness.me, UInt64(sequence)), from: server)) }
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 1), from: server))
        var handed: [UInt64] = []
        for _ in 0..<10 {
            harness.feed(.receive)
            handed += handedOver(harness.take())
        }
        #expect(handed == [1, 2, 3, 4, 5], "four held ahead of the gap, the rest come again later")
    }

    @Test func aMessageDurablyDeliveredWhileTheReceiverLeftGoesToTheNextReceiver() {
        var harness = receiver()
        harness.holdWrites = true
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 1), from: server))
        harness.feed(.receive)
        harness.feed(.receiveCancelled)
        harness.holdWrites = false
        harness.releaseHeld()
        #expect(harness.take().isEmpty)
        harness.feed(.receive)
        #expect(handedOver(harness.take()) == [1])
    }

    /// What the client's engine asks before it lets a cancelled receive go empty-handed: while
    /// the ledger records deliveries for it, the receive must wait for them (once recorded they
    /// never come again, not even after a restart).
    @Test func theCoreSaysWhileDeliveriesForTheReceiverAreBeingRecorded() {
        var harness = receiver()
        harness.holdWrites = true
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 1), from: server))
        #expect(!harness.core.isRecordingDelivery, "nobody waits: nothing is recorded")
        harness.feed(.receive)
        #expect(harness.core.isRecordingDelivery)
        harness.holdWrites = false
        harness.releaseHeld()
        #expect(!harness.core.isRecordingDelivery)
        #expect(handedOver(harness.take()) == [1])
    }

    @Test func aRestartedCoreKnowsWhatWasDelivered() {
        var harness = CoreHarness(restoring: LedgerContents(deliveredThrough: [alice: 5]))
        harness.feed(.serverConnected(server))
        _ = harness.take()
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 5), from: server))
        #expect(harness.take() == [.acknowledgeRelayed(MessageID(sender: alice, sequence: 5), to: server)])
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 6), from: server))
        harness.feed(.receive)
        #expect(handedOver(harness.take()) == [6])
    }

    /// The ledger may claim any watermark (a damaged file): the last sequences still order and
    /// deliver, without a trap at the end of the numbers.
    @Test func aWatermarkAtTheEndOfTheSequencesNeitherTrapsNorRedelivers() {
        var harness = CoreHarness(restoring: LedgerContents(deliveredThrough: [alice: .max - 1]))
        harness.feed(.serverConnected(server))
        _ = harness.take()
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, .max), from: server))
        harness.feed(.receive)
        #expect(handedOver(harness.take()) == [.max])
        var full = CoreHarness(restoring: LedgerContents(deliveredThrough: [alice: .max]))
        full.feed(.serverConnected(server))
        _ = full.take()
        full.feed(.relayedMessage(message(from: alice, to: full.me, .max), from: server))
        #expect(full.take() == [.acknowledgeRelayed(MessageID(sender: alice, sequence: .max), to: server)])
    }

    @Test func relayedAcknowledgementsFallBackToTheSubscribedServer() {
        var harness = receiver()
        let gone = NodeID.random()
        harness.feed(.relayedMessage(message(from: alice, to: harness.me, 1), from: gone))
        harness.feed(.receive)
        #expect(harness.take().last == .acknowledgeRelayed(MessageID(sender: alice, sequence: 1), to: server))
    }
}
