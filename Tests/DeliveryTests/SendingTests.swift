import Delivery
import MessageModel
import P2PCore
import Testing

@Suite struct SendingTests {
    let bob = NodeID.random()
    let server = NodeID.random()

    private func connectedCore(direct: Bool = false) -> CoreHarness {
        var harness = CoreHarness()
        harness.feed(.serverConnected(server))
        if direct { harness.feed(.directPeers([bob])) }
        #expect(harness.take() == [.subscribe(server)])
        return harness
    }

    private func key(_ harness: CoreHarness, _ sequence: UInt64) -> OutboxKey {
        OutboxKey(recipient: bob, id: MessageID(sender: harness.me, sequence: sequence))
    }

    @Test func aMessageLeavesOnlyOnceItsOutboxEntryIsDurable() {
        var harness = connectedCore()
        harness.holdWrites = true
        harness.feed(.send(SendToken(1), to: bob, payload: [7], timeout: 10_000))
        #expect(harness.take().isEmpty, "nothing may leave before the outbox entry is durable")
        #expect(harness.held.first?.operations == [.prepare(recipient: bob, payload: [7])])
        harness.holdWrites = false
        harness.releaseHeld()
        #expect(harness.take() == [.relay(message(bob: bob, me: harness.me, 1, payload: [7]), to: server)])
    }

    @Test func storedThenAcknowledgedEndsTheSendAsDelivered() {
        var harness = connectedCore()
        harness.feed(.send(SendToken(1), to: bob, payload: [7], timeout: 10_000))
        _ = harness.take()
        harness.feed(.relayAnswer(key(harness, 1), from: server, .stored))
        #expect(harness.operations.last == .resolve(key(harness, 1)), "a stored message leaves the outbox")
        #expect(harness.take().isEmpty)
        harness.advance(by: 5_000)
        #expect(harness.take().isEmpty, "a stored message is not retried")
        harness.feed(.receipt(recipient: bob, id: key(harness, 1).id))
        #expect(harness.take() == [.finishSend(SendToken(1), .success(key(harness, 1).id))])
        #expect(harness.core.deliveries.relayed == 1)
        #expect(harness.core.outstanding.isEmpty)
    }

    @Test func theDeadlineTellsStoredOrPending() {
        var harness = connectedCore()
        harness.feed(.send(SendToken(1), to: bob, payload: [1], timeout: 2_000))
        harness.feed(.send(SendToken(2), to: bob, payload: [2], timeout: 2_000))
        _ = harness.take()
        harness.feed(.relayAnswer(key(harness, 1), from: server, .stored))
        harness.advance(to: 2_000)
        let finished = harness.take().filter { if case .finishSend = $0 { true } else { false } }
        #expect(finished == [
            .finishSend(SendToken(1), .failure(.stored(key(harness, 1).id))),
            .finishSend(SendToken(2), .failure(.pending(key(harness, 2).id))),
        ])
        #expect(harness.core.outstanding == [key(harness, 2)], "the stored one is the cluster's now; the pending one stays")
    }

    @Test func refusalsEndTheSendAndResolveTheEntry() {
        var harness = connectedCore()
        let refusals: [(SendResult, SendFailure)] = [
            (.mailboxFull, .mailboxFull(bob)), (.unknownRecipient, .unknownRecipient(bob)), (.tooLarge(limit: 0), .tooLarge(size: 1, limit: 0)),
        ]
        for (index, (result, failure)) in refusals.enumerated() {
            let sequence = UInt64(index + 1)
            harness.feed(.send(SendToken(sequence), to: bob, payload: [1], timeout: 10_000))
            _ = harness.take()
            harness.feed(.relayAnswer(key(harness, sequence), from: server, result))
            #expect(harness.take() == [.finishSend(SendToken(sequence), .failure(failure))])
            #expect(harness.operations.last == .resolve(key(harness, sequence)))
        }
        harness.feed(.send(SendToken(9), to: bob, payload: [1], timeout: 10_000))
        _ = harness.take()
        harness.feed(.relayAnswer(key(harness, 4), from: server, .alreadyDelivered))
        #expect(harness.take() == [.finishSend(SendToken(9), .success(key(harness, 4).id))])
    }

    @Test func quotaRefusalOwesASkipRelayedUntilStored() {
        var harness = connectedCore(direct: true)
        harness.feed(.directPeers([]))
        harness.feed(.send(SendToken(1), to: bob, payload: [1, 2, 3], timeout: 10_000))
        _ = harness.take()
        harness.feed(.relayAnswer(key(harness, 1), from: server, .quotaExceeded(limit: 5)))
        #expect(harness.take() == [.finishSend(SendToken(1), .failure(.quotaExceeded(bob, limit: 5)))])
        #expect(harness.operations.last == .oweSkip(key(harness, 1)))
        // Retried after the backoff, as a skip, through the relay even with a direct path up.
        harness.feed(.directPeers([bob]))
        harness.advance(by: 50)
        let skip = message(bob: bob, me: harness.me, 1, payload: []).skip()
        #expect(harness.take() == [.relay(skip, to: server)])
        harness.feed(.relayAnswer(key(harness, 1), from: server, .storageFull(limit: 1)))
        harness.advance(by: 99)
        #expect(harness.take().isEmpty, "the backoff doubles")
        harness.advance(by: 1)
        #expect(harness.take() == [.relay(skip, to: server)])
        harness.feed(.relayAnswer(key(harness, 1), from: server, .stored))
        #expect(harness.operations.last == .resolve(key(harness, 1)))
        #expect(harness.core.outstanding.isEmpty)
    }

    @Test func directFirstThenRelayAfterTheAttemptTimeout() {
        var harness = connectedCore(direct: true)
        harness.feed(.send(SendToken(1), to: bob, payload: [5], timeout: 10_000))
        let sent = message(bob: bob, me: harness.me, 1, payload: [5])
        #expect(harness.take() == [.sendDirect(sent)])
        harness.advance(by: 2_999)
        #expect(harness.take().isEmpty)
        harness.advance(by: 1)
        #expect(harness.take() == [.relay(sent.with(offeredDirectly: true), to: server)])
        // A late direct acknowledgement still completes it.
        harness.feed(.directAcknowledgement(from: bob, sequence: 1))
        #expect(harness.take() == [.finishSend(SendToken(1), .success(sent.id))])
        #expect(harness.core.deliveries.direct == 1)
    }

    @Test func aFailedDirectSendGoesToTheRelayAtOnce() {
        var harness = connectedCore(direct: true)
        harness.feed(.send(SendToken(1), to: bob, payload: [5], timeout: 10_000))
        _ = harness.take()
        harness.feed(.directSendFailed(key(harness, 1)))
        #expect(harness.take() == [.relay(message(bob: bob, me: harness.me, 1, payload: [5]).with(offeredDirectly: true), to: server)])
    }

    @Test func unansweredOffersAreRetriedWithBackoff() {
        var harness = connectedCore()
        harness.feed(.send(SendToken(1), to: bob, payload: [5], timeout: 60_000))
        _ = harness.take()
        var times: [UInt64] = []
        for _ in 0..<700 {
            harness.advance(by: 10)
            if harness.take().contains(where: { if case .relay = $0 { true } else { false } }) { times.append(harness.now) }
        }
        harness.feed(.relayFailed(key(harness, 1), server: server))
        // 3 s attempt timeout, then pauses of 50, 100 … after each unanswered attempt.
        #expect(Array(times.prefix(2)) == [3_050, 6_150])
        harness.feed(.relayAnswer(key(harness, 1), from: server, .unavailable(reason: "no leader")))
        #expect(harness.core.outstanding == [key(harness, 1)])
    }

    @Test func aNewServerConnectionOffersEverythingAgain() {
        var harness = connectedCore()
        harness.feed(.send(SendToken(1), to: bob, payload: [1], timeout: 60_000))
        harness.feed(.send(SendToken(2), to: bob, payload: [2], timeout: 60_000))
        harness.feed(.relayAnswer(key(harness, 1), from: server, .stored))
        _ = harness.take()
        harness.feed(.serverDisconnected(server))
        let other = NodeID.random()
        harness.feed(.serverConnected(other))
        let relayed = harness.take().compactMap { directive -> UInt64? in
            guard case .relay(let message, let target) = directive, target == other else { return nil }
            return message.id.sequence
        }
        #expect(relayed == [1, 2], "a receipt missed while disconnected shows up as already delivered")
    }

    @Test func relayOffersPreferServersTheRecipientIsAttachedTo() {
        var harness = CoreHarness(seed: 42)
        let servers = (0..<4).map { _ in NodeID.random() }
        for server in servers { harness.feed(.serverConnected(server)) }
        harness.feed(.recipientServers(bob, [servers[2]]))
        _ = harness.take()
        for token in 1...20 { harness.feed(.send(SendToken(UInt64(token)), to: bob, payload: [1], timeout: 60_000)) }
        let targets = Set(harness.take().compactMap { directive -> NodeID? in
            guard case .relay(_, let target) = directive else { return nil }
            return target
        })
        #expect(targets == [servers[2]])
    }

    @Test func aRestartedCoreResumesItsOutbox() {
        let me = NodeID.random()
        let ledger = LedgerContents(outbox: [
            OutboxEntry(recipient: bob, id: MessageID(sender: me, sequence: 3), payload: [3]),
            OutboxEntry(recipient: bob, id: MessageID(sender: me, sequence: 2), payload: [], isSkip: true),
        ])
        var harness = CoreHarness(me: me, restoring: ledger)
        harness.feed(.serverConnected(server))
        let relayed = harness.take().compactMap { directive -> MailMessage? in
            if case .relay(let message, _) = directive { message } else { nil }
        }
        #expect(relayed.map(\.id.sequence).sorted() == [2, 3])
        #expect(relayed.first { $0.id.sequence == 2 }?.isSkip == true)
    }

    @Test func aFailedLedgerWriteRefusesTheSend() {
        var harness = connectedCore()
        harness.holdWrites = true
        harness.feed(.send(SendToken(1), to: bob, payload: [1], timeout: 60_000))
        let batch = harness.held.removeFirst()
        harness.feed(.persistFailed(batch: batch.number))
        #expect(harness.take() == [.finishSend(SendToken(1), .failure(.notPersisted))])
    }

    @Test func stopEndsEverySend() {
        var harness = connectedCore()
        harness.feed(.send(SendToken(1), to: bob, payload: [1], timeout: 60_000))
        _ = harness.take()
        harness.feed(.stop)
        #expect(harness.take() == [.finishSend(SendToken(1), .failure(.stopped))])
        #expect(harness.core.nextDeadline == nil)
    }
}

func message(bob: NodeID, me: NodeID, _ sequence: UInt64, payload: [UInt8]) -> MailMessage {
    MailMessage(id: MessageID(sender: me, sequence: sequence), recipient: bob, payload: payload, enqueuedAtMillis: 0)
}
