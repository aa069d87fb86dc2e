import AdminProtocol
import ClientProtocol
import ClusterHarness
import Foundation
import P2PCore
import Testing
import TestSupport
import Transport
@testable import P2PClient

/// Clients attached to a bounded subset of a larger cluster (``ClientConfiguration/maximumAttachedServers``):
/// relay, receipts and fall-over across clients that share no server, and paginated listings.
extension ServerProcessSuites {
@Suite struct BoundedAttachmentTests {
    /// A configuration for `name` whose two preferred servers avoid `avoiding` (fresh identities
    /// are made until one ranks them so), and those two addresses.
    static func configuration(_ cluster: LocalCluster, _ name: String, avoiding: Set<String> = []) throws -> (ClientConfiguration, Set<String>) {
        for attempt in 0..<64 {
            var configuration = cluster.clientConfiguration("\(name)-\(attempt)")
            configuration.maximumAttachedServers = 2
            configuration.directTunnels = false
            let id = try IdentityStore(directory: configuration.stateDirectory).loadOrCreate().id
            let preferred = Set(AttachmentPlan.ranked(configuration.servers, for: id).prefix(2))
            if preferred.isDisjoint(with: avoiding) { return (configuration, preferred) }
        }
        throw ClientError.refused("no identity ranks two servers outside \(avoiding)")
    }

    static func connectedAddresses(_ client: P2PClient) async -> Set<String> {
        Set(await client.engine.connections.connectedAddresses)
    }

    static func exchange(_ from: P2PClient, _ to: P2PClient, count: Int) async throws {
        let received = Task { try await RelayDeliveryTests.collect(to, count: count, timeout: .seconds(60)) }
        for i in 0..<count { try await from.send(to: to.id, data: RelayDeliveryTests.payload(i), timeout: .seconds(20)) }
        let messages = try await received.value
        #expect(messages.map(\.data) == (0..<count).map(RelayDeliveryTests.payload), "not exactly once in order")
    }

    @Test func clientsOnDisjointServersExchangeBothWaysAndListThemselvesInPages() async throws {
        let cluster = try await LocalCluster.start(size: 5, binary: LocalCluster.testBinary)
        defer { cluster.stop() }
        let (aliceConfiguration, aliceServers) = try Self.configuration(cluster, "alice")
        let (bobConfiguration, bobServers) = try Self.configuration(cluster, "bob", avoiding: aliceServers)
        try await withClients([aliceConfiguration, bobConfiguration]) { clients in
            let (alice, bob) = (clients[0], clients[1])
            #expect(try await eventually {
                let (aliceNow, bobNow) = (await Self.connectedAddresses(alice), await Self.connectedAddresses(bob))
                return aliceNow == aliceServers && bobNow == bobServers
            }, "each client attaches to exactly its two preferred servers")
            // `send` returns only once the receipt reached a server the sender is attached to.
            try await Self.exchange(alice, bob, count: 5)
            try await Self.exchange(bob, alice, count: 5)
            #expect(await Self.connectedAddresses(alice) == aliceServers, "no other server was dialled")

            // Listings in pages: one client per page, both found, no server endpoint among them.
            let first = try await alice.clientPage(limit: 1)
            #expect(first.clients.count == 1 && first.next == first.clients.first)
            var listed: [NodeID] = []
            for try await id in alice.allClients(pageSize: 1) { listed.append(id) }
            #expect(Set(listed).isSuperset(of: [alice.id, bob.id]) && listed == listed.sorted(), "\(listed)")
            #expect(Set(try await alice.clients().notDirect) == Set(listed).subtracting([alice.id]))
            let admin = try await AdminClient.connect(to: try #require(HostPort(cluster.addresses[0])), adminSecret: cluster.adminSecret)
            defer { admin.close() }
            guard case .clientPage(let page, let next) = try await admin.request(.clientPage(after: nil, limit: 1)) else {
                Issue.record("no client page")
                return
            }
            #expect(page.count == 1 && next == page.first?.id)
            guard case .clientPage(let rest, nil) = try await admin.request(.clientPage(after: next, limit: 5_000)) else {
                Issue.record("the second page is not the last")
                return
            }
            #expect(Set((page + rest).map(\.id)) == Set(listed))
            let aliceSummary = (page + rest).first { $0.id == alice.id }
            #expect(aliceSummary?.attachedServers.count == 2, "the registry says where alice is attached")
        }
    }

    @Test func aClientWhoseServersAreKilledFallsOverToTheNextRanked() async throws {
        let cluster = try await LocalCluster.start(size: 5, binary: LocalCluster.testBinary)
        defer { cluster.stop() }
        let (aliceConfiguration, aliceServers) = try Self.configuration(cluster, "alice")
        let (bobConfiguration, _) = try Self.configuration(cluster, "bob")
        try await withClients([aliceConfiguration, bobConfiguration]) { clients in
            let (alice, bob) = (clients[0], clients[1])
            #expect(try await eventually { await Self.connectedAddresses(alice) == aliceServers })
            for server in cluster.servers where aliceServers.contains(server.address) { server.kill(signal: SIGKILL) }
            let ranked = AttachmentPlan.ranked(aliceConfiguration.servers, for: alice.id)
            let standIns = Set(ranked.dropFirst(2).prefix(2))
            let fellOver = try await eventually(timeout: .seconds(30)) { await Self.connectedAddresses(alice) == standIns }
            let attached = await Self.connectedAddresses(alice)
            #expect(fellOver, "alice attaches to her next two ranked servers (has \(attached))")
            try await Self.exchange(alice, bob, count: 3)
            try await Self.exchange(bob, alice, count: 3)
        }
    }
}
}
