import ClientProtocol
import Mailbox
import MessageModel
import P2PCore
import Testing
@testable import P2PServer

/// Regression (found by p2pcore-chaos): a replica that had not caught up answered a registry
/// lookup with "no such client", and the sender's `send` failed with `unknownRecipient` for a
/// client that was registered long before.
@Suite struct ReadBarrierTests {
    @Test func aLaggingReplicaDoesNotDenyARegisteredClient() async throws {
        let cluster = try InMemoryCluster(size: 3)
        #expect(try await cluster.pump(until: { await cluster.leader() != nil }))
        let leader = try #require(await cluster.leader())
        let laggingID = try #require(cluster.ids.first { $0 != leader.id })
        let lagging = try #require(cluster.replica(laggingID))
        cluster.isolate(laggingID)

        let alice = ClientRecord(id: NodeID.random(), publicKey: [7])
        let registering = Task { try await leader.propose(.register(alice)) }
        let pumping = Task { while !Task.isCancelled { try await cluster.pump(); await Task.yield() } }
        #expect(try await registering.value == .done)
        pumping.cancel()
        _ = await pumping.result
        // The condition of the bug: the lagging replica has no record of alice.
        #expect(try await lagging.mailboxes.client(alice.id) == nil)

        let whileBehind = await RaftDriver.lookUpClient(alice.id, in: lagging, readIndex: { await leader.commitIndex }, timeout: .milliseconds(200))
        guard case .unavailable = whileBehind else {
            Issue.record("a lagging replica answered \(whileBehind) instead of declining")
            return
        }

        cluster.heal(laggingID)
        let index = await leader.commitIndex
        #expect(try await cluster.pump(until: { await lagging.appliedIndex >= index }))
        let caughtUp = await RaftDriver.lookUpClient(alice.id, in: lagging, readIndex: { await leader.commitIndex }, timeout: .seconds(5))
        #expect(caughtUp == .client(try await lagging.mailboxes.client(alice.id)))
        guard case .client(let record?) = caughtUp else {
            Issue.record("the caught-up replica did not find alice: \(caughtUp)")
            return
        }
        #expect(record.id == alice.id)

        // A client nobody registered is denied once the barrier holds, and a lookup without a
        // leader to ask declines rather than denies.
        let stranger = NodeID.random()
        #expect(await RaftDriver.lookUpClient(stranger, in: lagging, readIndex: { await leader.commitIndex }, timeout: .seconds(5)) == .client(nil))
        guard case .unavailable = await RaftDriver.lookUpClient(stranger, in: lagging, readIndex: { nil }, timeout: .seconds(5)) else {
            Issue.record("a lookup with no leader to ask denied the client")
            return
        }
    }
}
