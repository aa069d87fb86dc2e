import AdminProtocol
import ClusterHarness
import P2PClient
import P2PCore
import Testing
import TestSupport

/// Path diagnostics end to end on one host: a client's path events and snapshot, and what
/// `mailbox-admin path` makes of the pair.
extension ServerProcessSuites {
@Suite struct PathEventTests {
    /// The first event of `events` that satisfies `matching`, or `nil` after `timeout`.
    static func first(
        _ events: AsyncStream<PathEvent>, timeout: Duration, where matching: @escaping @Sendable (PathEvent) -> Bool
    ) async -> PathEvent? {
        await withTaskGroup(of: PathEvent?.self) { group in
            group.addTask {
                for await event in events where matching(event) { return event }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    @Test func twoClientsGoingDirectOnLoopbackEmitAPathEventAndTheAdminSeesThePair() async throws {
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        try await withClients([DirectPathTests.onLoopback(cluster, "alice"), DirectPathTests.onLoopback(cluster, "bob")]) { clients in
            let (alice, bob) = (clients[0], clients[1])
            let bobID = bob.id
            let events = alice.pathEvents
            // Both clients' UDP mappings are observed first, so the introduction carries UDP
            // candidates and the attempt has both halves (clients observe at their own pace).
            let target = try #require(HostPort(cluster.addresses[0]))
            #expect(try await eventually {
                let admin = try await AdminClient.connect(to: target, adminSecret: cluster.adminSecret)
                defer { admin.close() }
                guard case .path(let answer) = try await admin.request(.path(alice.id, bobID)) else { return false }
                return !answer.a.observations.isEmpty && !answer.b.observations.isEmpty
            }, "the servers never observed both clients' UDP mappings")
            let received = Task { try await RelayDeliveryTests.collect(bob, count: 1) }
            try await alice.send(to: bob.id, data: RelayDeliveryTests.payload(0), timeout: .seconds(30))
            _ = try await received.value

            let up = await Self.first(events, timeout: .seconds(20)) { $0.peer == bobID && $0.path == .lan }
            let event = try #require(up, "no path event for the LAN link")
            #expect(event.reason.hasPrefix("LAN link up to 127.0.0.1:"))

            let paths = await alice.paths()
            let toBob = try #require(paths.first { $0.peer == bobID })
            #expect(toBob.path == .lan)
            // An attempt is recorded once both halves (LAN dial, UDP punch) ended; whichever side
            // asked for the introduction made it (the other may have found the link already up).
            func succeededAttempt() async -> PathAttempt? {
                let attempts = [await alice.paths().first { $0.peer == bobID }?.lastAttempt, await bob.paths().first { $0.peer == alice.id }?.lastAttempt]
                return attempts.compactMap { $0 }.first { $0.succeeded }
            }
            // The side that asked records a LAN + UDP attempt; the other side records its punch
            // (`.udp`) and may do so first, so wait for the asking side's record.
            #expect(try await eventually { await succeededAttempt() != nil }, "no successful attempt recorded")
            #expect(try await eventually {
                let attempts = [await alice.paths().first { $0.peer == bobID }?.lastAttempt, await bob.paths().first { $0.peer == alice.id }?.lastAttempt]
                return attempts.contains { $0?.succeeded == true && $0?.kind == .lanAndUDP }
            }, "no successful LAN + UDP attempt recorded by the side that asked")
            // Keepalive pings are echoed: the path gets a round-trip time.
            #expect(try await eventually { await alice.paths().first { $0.peer == bobID }?.rtt != nil }, "no RTT measured")

            // The servers hear it from the clients; both sit on loopback, behind no NAT.
            var diagnosis: PairPathDiagnosis?
            #expect(try await eventually {
                let admin = try await AdminClient.connect(to: target, adminSecret: cluster.adminSecret)
                defer { admin.close() }
                guard case .path(let answer) = try await admin.request(.path(alice.id, bobID)) else { return false }
                diagnosis = answer
                return answer.path == .lan && answer.reports.count == 2 && answer.a.observations.count >= 2
            }, "the admin API does not show the direct pair: \(String(describing: diagnosis))")
            #expect(diagnosis?.verdict.hasPrefix("direct: a TCP link on their shared LAN") == true)
            #expect(diagnosis?.a.behaviour == .noNAT)
            #expect(diagnosis?.reports.allSatisfy { $0.source == "client-reported" } == true)
        }
    }
}
}
