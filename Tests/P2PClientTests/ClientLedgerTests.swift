import Delivery
import Foundation
import LMDB
import P2PCore
import Testing
@testable import P2PClient

@Suite struct ClientLedgerTests {
    let me = NodeID.random()
    let bob = NodeID.random()
    let carol = NodeID.random()

    private func withLedger(_ body: (String, ClientLedger) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-ledger-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let environment = try Environment(path: path)
        try body(path, try ClientLedger(environment: environment, me: me))
        environment.close()
    }

    @Test func sequencesArePerRecipientAndSurviveRestart() throws {
        try withLedger { path, ledger in
            let first = try ledger.prepare(to: bob, payloads: [[1], [2]])
            let other = try ledger.prepare(to: carol, payloads: [[3]])
            #expect(first.map(\.id.sequence) == [1, 2])
            #expect(other.map(\.id.sequence) == [1])
            try ledger.resolve([(bob, 1)])

            let reopened = try ClientLedger(environment: try Environment(path: path), me: me)
            #expect(try reopened.prepare(to: bob, payloads: [[4]]).map(\.id.sequence) == [3])
            let pending = try reopened.pending()
            #expect(pending.filter { $0.recipient == bob }.map(\.id.sequence) == [2, 3])
            #expect(pending.filter { $0.recipient == carol }.map(\.payload) == [[3]])
            #expect(pending.allSatisfy { $0.id.sender == me })
        }
    }

    @Test func deliveryFollowsTheSendersSequenceExactly() throws {
        try withLedger { _, ledger in
            try ledger.markDelivered(MessageID(sender: bob, sequence: 1))
            #expect(throws: ClientLedger.LedgerError.outOfOrder(sender: bob, expected: 2, got: 3)) {
                try ledger.markDelivered(MessageID(sender: bob, sequence: 3))
            }
            #expect(throws: ClientLedger.LedgerError.self) {
                try ledger.markDelivered(MessageID(sender: bob, sequence: 1))
            }
            try ledger.markDelivered(MessageID(sender: bob, sequence: 2))
            #expect(try ledger.deliveredThrough(bob) == 2)
            #expect(try ledger.deliveredThrough(carol) == 0)
        }
    }
}
