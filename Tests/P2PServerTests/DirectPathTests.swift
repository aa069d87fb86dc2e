import AdminProtocol
import ClusterHarness
import Foundation
import P2PClient
import P2PCore
import Testing
import TestSupport

/// Direct paths between two clients on one host (the multi-LAN topologies are `Scripts/multilan`).
extension ServerProcessSuites {
@Suite struct DirectPathTests {
    /// A client of `cluster` that listens for direct links on loopback only.
    static func onLoopback(_ cluster: LocalCluster, _ name: String) -> ClientConfiguration {
        var configuration = cluster.clientConfiguration(name)
        configuration.listenHost = "127.0.0.1"
        return configuration
    }

    @Test func clientsOnOneHostGoDirectAndTheServersCarryNoPayload() async throws {
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        try await withClients([Self.onLoopback(cluster, "alice"), Self.onLoopback(cluster, "bob")]) { clients in
            let (alice, bob) = (clients[0], clients[1])
            let count = 300
            // A path is attempted while the pair has traffic, so the warm-up sends until it is up
            // (a first attempt can fail on a loaded machine, and only the next send retries).
            // The first message usually goes through the relay while the path is set up (on a
            // busy machine the path can win the race): either way the servers counted it right.
            var warmUp: [ReceivedMessage] = []
            var pathUp = false
            while !pathUp, warmUp.count < 10 {
                async let arrived = RelayDeliveryTests.collect(bob, count: 1)
                try await alice.send(to: bob.id, data: RelayDeliveryTests.payload(warmUp.count), timeout: .seconds(30))
                warmUp += try await arrived
                pathUp = try await eventually(timeout: .seconds(5)) { await alice.directPaths()[bob.id] == .lan }
            }
            #expect(pathUp, "no LAN path came up after \(warmUp.count) messages")
            let relayedBefore = try await RelayCounters.relayedMessages(at: cluster.addresses, adminSecret: cluster.adminSecret)
            let first = await alice.deliveryCounts()
            #expect(first.direct + first.relayed == warmUp.count && relayedBefore >= first.relayed, "relayed \(relayedBefore), deliveries \(first)")

            let start = warmUp.count
            let received = Task { try await RelayDeliveryTests.collect(bob, count: count) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in start..<(start + count) {
                    if i - start >= 16 { try await group.next() }
                    group.addTask { try await alice.send(to: bob.id, data: RelayDeliveryTests.payload(i), timeout: .seconds(30)) }
                }
                try await group.waitForAll()
            }
            let messages = warmUp + (try await received.value)
            #expect(messages.map(\.id.sequence) == Array(1...UInt64(start + count)), "not exactly once in order")
            #expect(Set(messages.map(\.data)) == Set((0..<(start + count)).map(RelayDeliveryTests.payload)))
            let relayedAfter = try await RelayCounters.relayedMessages(at: cluster.addresses, adminSecret: cluster.adminSecret)
            #expect(relayedAfter == relayedBefore, "the servers relayed \(relayedAfter - relayedBefore) messages of a direct pair")
            let split = try await alice.clients()
            #expect(split.direct == [bob.id])
            #expect(!split.notDirect.contains(bob.id))
            // Operators see the pair too (`mailbox-admin clients`).
            #expect(try await eventually {
                let admin = try await AdminClient.connect(to: try #require(HostPort(cluster.addresses[0])), adminSecret: cluster.adminSecret)
                defer { admin.close() }
                guard case .clients(let summaries) = try await admin.request(.clients) else { return false }
                return summaries.first { $0.id == alice.id }?.directPeers == [bob.id]
                    && summaries.first { $0.id == bob.id }?.directPeers == [alice.id]
            }, "the admin API does not show the direct pair")
        }
    }

    @Test func whenTheDirectPeerGoesAwayMessagesFallBackToItsMailbox() async throws {
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        let bobConfiguration = Self.onLoopback(cluster, "bob")
        try await withClient(Self.onLoopback(cluster, "alice")) { alice in
            let bob = try await P2PClient.start(bobConfiguration)
            let first = Task { [bob] in try await RelayDeliveryTests.collect(bob, count: 1) }
            try await alice.send(to: bob.id, data: RelayDeliveryTests.payload(0), timeout: .seconds(30))
            _ = try await first.value
            #expect(try await eventually { await alice.directPaths()[bob.id] != nil }, "no direct path came up")

            await bob.shutdown()
            // Bob is gone: the message is stored in his mailbox (the direct attempt fails over to the relay).
            await #expect(throws: SendError.stored(MessageID(sender: alice.id, sequence: 2))) {
                try await alice.send(to: bob.id, data: RelayDeliveryTests.payload(1), timeout: .seconds(8))
            }
            try await withClient(bobConfiguration) { bob in
                let later = try await RelayDeliveryTests.collect(bob, count: 1)
                #expect(later.map(\.id.sequence) == [2])
                #expect(later.map(\.data) == [RelayDeliveryTests.payload(1)])
            }
        }
    }
}
}
