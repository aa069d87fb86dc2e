import ClusterHarness
import Foundation
import P2PClient
import P2PCore
import Testing
import TestSupport

/// Expiry through three real server processes (docs/DELIVERY.md, "Expiry"; issue 16's acceptance).
extension ServerProcessSuites {
@Suite struct MessageExpiryTests {
    @Test func aMessageToAnOfflineClientExpiresAndTheNextOneIsDeliveredInOrder() async throws {
        try await withCluster { cluster async throws -> Void in
            let bobConfiguration = cluster.clientConfiguration("bob")
            // Bob registers, then goes offline.
            let bobID = try await withClient(bobConfiguration) { bob in bob.id }
            try await withClient(cluster.clientConfiguration("alice")) { alice async throws -> Void in
                // The send's own result is the event: it ends once the cluster expired the message.
                do {
                    try await alice.send(to: bobID, data: Array("too late".utf8), timeToLive: .seconds(2), timeout: .seconds(60))
                    Issue.record("an expiring message was delivered to an offline client")
                } catch let error as SendError {
                    if case .expired(let id) = error { #expect(id.sequence == 1) } else { Issue.record("expected .expired, got \(error)") }
                    #expect(!error.willStillBeDelivered)
                }
                // The next message of the pair has no time to live: it waits for Bob.
                let next = Task { try await alice.send(to: bobID, data: Array("in order".utf8), timeout: .seconds(60)) }
                try await withClient(bobConfiguration) { bob async throws -> Void in
                    let received = try await withDeadline(.seconds(30), "Bob's first message") {
                        var messages = bob.receive().makeAsyncIterator()
                        return try await messages.next()
                    }
                    #expect(received?.data == Array("in order".utf8), "the expired ones are passed over, never handed to Bob")
                    #expect(received?.id.sequence == 2)
                    #expect(try await next.value.sequence == 2)
                }
            }
        }
    }
}
}
