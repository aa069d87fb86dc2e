import MessageModel
import P2PCore
import Testing
@testable import SimulatedClients

@Suite struct DeliveryLedgerTests {
    let sender = NodeIdentity.generate().id
    let recipient = NodeIdentity.generate().id

    func message(_ sequence: UInt64, skip: Bool = false) -> MailMessage {
        let message = MailMessage(id: MessageID(sender: sender, sequence: sequence), recipient: recipient, payload: [1], enqueuedAtMillis: 0)
        return skip ? message.skip() : message
    }

    @Test func deliversInOrderAndAcknowledgesDuplicatesWithoutDeliveringThem() {
        var ledger = DeliveryLedger()
        #expect(ledger.receive(message(1)) == .init(delivered: 1, duplicates: 0, acknowledge: [message(1).id]))
        #expect(ledger.receive(message(1)) == .init(delivered: 0, duplicates: 1, acknowledge: [message(1).id]))
        #expect(ledger.deliveredCount == 1)
    }

    @Test func keepsLaterMessagesUnacknowledgedUntilTheGapFills() {
        var ledger = DeliveryLedger()
        #expect(ledger.receive(message(3)) == .init())
        #expect(ledger.receive(message(2, skip: true)) == .init())
        let outcome = ledger.receive(message(1))
        #expect(outcome.delivered == 2, "1 and 3 delivered, the skip passed over")
        #expect(outcome.acknowledge == [1, 2, 3].map { message($0).id })
        #expect(ledger.receive(message(2)).duplicates == 1)
    }

    @Test func seededIdentitiesAreTheSameForTheSameSeedAndIndexAndDerivedFromTheirKeys() {
        let one = SeededIdentity.identity(seed: 7, index: 42)
        #expect(one == SeededIdentity.identity(seed: 7, index: 42))
        #expect(one.id != SeededIdentity.identity(seed: 7, index: 43).id)
        #expect(one.isSelfCertifying)
    }
}
