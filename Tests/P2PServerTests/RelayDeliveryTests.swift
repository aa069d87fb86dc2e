import ClusterHarness
import Foundation
import P2PClient
import P2PCore
import Synchronization
import Testing
import TestSupport

/// Clients exchanging messages through three real server processes (the issue's acceptance).
extension ServerProcessSuites {
@Suite struct RelayDeliveryTests {
    static func payload(_ i: Int) -> [UInt8] { Array("message \(i)".utf8) + [UInt8](repeating: UInt8(i % 251), count: 200) }

    /// Collects what `client` receives until `count` messages arrived (or the deadline passed).
    static func collect(_ client: P2PClient, count: Int, timeout: Duration = .seconds(120)) async throws -> [ReceivedMessage] {
        try await withDeadline(timeout, "receiving \(count) messages") {
            var received: [ReceivedMessage] = []
            for try await message in client.receive() {
                received.append(message)
                if received.count == count { break }
            }
            return received
        }
    }

    @Test func sendReturnsOnlyOnceTheRecipientsApplicationHasTheMessage() async throws {
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        try await withClients([cluster.clientConfiguration("alice"), cluster.clientConfiguration("bob")]) { clients in
            let (alice, bob) = (clients[0], clients[1])

            let order = Mutex<[String]>([])
            let sending = Task {
                try await alice.send(to: bob.id, data: Array("hold me".utf8), timeout: .seconds(30))
                order.withLock { $0.append("send returned") }
            }
            // Bob's application holds off for a while: the message is committed and pushed to his
            // client, but it is not handed over, so `send` must keep waiting.
            try await Task.sleep(for: .seconds(1.5))
            #expect(order.withLock { $0 }.isEmpty, "send returned before the recipient's application took the message")
            var messages = bob.receive().makeAsyncIterator()
            let message = try #require(try await messages.next())
            // The acknowledgement may reach Alice before this task runs again: what must hold is
            // that `send` waited above and returns now that the application has the message.
            try await sending.value
            #expect(message.data == Array("hold me".utf8))
            #expect(message.from == alice.id)
            #expect(order.withLock { $0 } == ["send returned"])
        }
    }

    /// Regression (found by p2pcore-chaos): message ids are per recipient, so a sender's
    /// concurrent sends to two recipients share sequence numbers; each must still complete.
    @Test func concurrentSendsToTwoRecipientsWithTheSameSequenceNumbersAllComplete() async throws {
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        try await withClients([cluster.clientConfiguration("alice"), cluster.clientConfiguration("bob"), cluster.clientConfiguration("carol")]) { clients in
            let (alice, bob, carol) = (clients[0], clients[1], clients[2])
            let bobGot = Task { try await Self.collect(bob, count: 20) }
            let carolGot = Task { try await Self.collect(carol, count: 20) }
            let ids = try await withThrowingTaskGroup(of: MessageID.self) { group in
                for i in 0..<20 {
                    group.addTask { try await alice.send(to: bob.id, data: Self.payload(i), timeout: .seconds(30)) }
                    group.addTask { try await alice.send(to: carol.id, data: Self.payload(i), timeout: .seconds(30)) }
                }
                return try await group.reduce(into: [MessageID]()) { $0.append($1) }
            }
            #expect(ids.count == 40)
            #expect(Set(ids.map(\.sequence)) == Set(1...20))
            #expect(Set(try await bobGot.value.map(\.data)) == Set((0..<20).map(Self.payload)))
            #expect(Set(try await carolGot.value.map(\.data)) == Set((0..<20).map(Self.payload)))
        }
    }

    @Test func twoThousandMessagesArriveExactlyOnceInOrderAcrossALeaderSIGKILL() async throws {
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        try await withClients([cluster.clientConfiguration("alice"), cluster.clientConfiguration("bob")]) { clients in
            let (alice, bob) = (clients[0], clients[1])
            let total = 2_000
            let receiving = Task { try await Self.collect(bob, count: total) }

            let progress = SendProgress()
            let sending = Task {
                // 16 sends in flight; each returns when Bob's application has the message.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for i in 1...total {
                        if i > 16 { try await group.next() }
                        group.addTask {
                            do {
                                try await alice.send(to: bob.id, data: Self.payload(i), timeout: .seconds(60))
                                progress.succeeded(i)
                            } catch let error as SendError where error.willStillBeDelivered {
                                // Delivered later, exactly once: checked on Bob's side.
                            }
                            progress.finished()
                        }
                    }
                    try await group.waitForAll()
                }
            }
            // Kill the leader mid-stream, then bring it back.
            let midStream = ContinuousClock.now + .seconds(60)
            while progress.finishedCount < 600 {
                try #require(ContinuousClock.now < midStream, "600 sends did not finish within a minute")
                try await Task.sleep(for: .milliseconds(20))  // polling a counter, with a deadline
            }
            let (leader, term) = try await cluster.agreedLeader()
            leader.kill(signal: SIGKILL)
            _ = try await cluster.agreedLeader(among: cluster.names.filter { $0 != leader.name }, after: term)
            try cluster.start(leader)

            try await sending.value
            let received = try await receiving.value
            #expect(received.map(\.id.sequence) == Array(1...UInt64(total)), "every message exactly once, in order")
            // Concurrent sends take sequence numbers in the order they reach the client's outbox.
            #expect(received.map(\.data).sorted { $0.lexicographicallyPrecedes($1) } == (1...total).map(Self.payload).sorted { $0.lexicographicallyPrecedes($1) })
            #expect(progress.succeededCount >= total - 16, "nearly every send returned success")
            #expect(received.allSatisfy { $0.from == alice.id })
        }
    }

    @Test func mailForAnOfflineClientSurvivesAFullClusterRestart() async throws {
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        try await withClient(cluster.clientConfiguration("alice")) { alice in
            var bob: P2PClient? = try await P2PClient.start(cluster.clientConfiguration("bob"))
            let bobID = try #require(bob?.id)
            await bob?.shutdown()
            bob = nil

            // Bob is offline: every send ends at its deadline with "stored".
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 1...100 {
                    group.addTask {
                        do {
                            try await alice.send(to: bobID, data: Self.payload(i), timeout: .seconds(3))
                            Issue.record("a send to an offline client returned success")
                        } catch let error as SendError {
                            guard case .stored = error else {
                                Issue.record("expected .stored, got \(error)")
                                return
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }

            for server in cluster.servers { server.stop() }
            for server in cluster.servers { try cluster.start(server) }
            _ = try await cluster.agreedLeader()

            try await withClient(cluster.clientConfiguration("bob")) { restarted in
                #expect(restarted.id == bobID, "the state directory keeps the client's id")
                let received = try await Self.collect(restarted, count: 100)
                #expect(received.map(\.id.sequence) == Array(1...100))
                // Concurrent sends take sequence numbers in the order they reach the client's outbox.
                #expect(received.map(\.data).sorted { $0.lexicographicallyPrecedes($1) } == (1...100).map(Self.payload).sorted { $0.lexicographicallyPrecedes($1) })

                // Nothing is delivered twice: the next message Bob's application sees is a new one.
                async let next = Self.collect(restarted, count: 1)
                try await alice.send(to: bobID, data: Array("after the restart".utf8), timeout: .seconds(30))
                let after = try await next
                #expect(after.map(\.id.sequence) == [101])
            }
        }
    }

    @Test func badRequestsGetTypedErrorsAndLoseNothing() async throws {
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        try await withClients([cluster.clientConfiguration("alice"), cluster.clientConfiguration("bob")]) { clients in
            let (alice, bob) = (clients[0], clients[1])

            let stranger = NodeID.random()
            await #expect(throws: SendError.unknownRecipient(stranger)) {
                try await alice.send(to: stranger, data: [1, 2, 3])
            }
            let limit = alice.configuration.maximumMessageSize
            await #expect(throws: SendError.messageTooLarge(size: limit + 1, limit: limit)) {
                try await alice.send(to: bob.id, data: [UInt8](repeating: 0, count: limit + 1))
            }

            // A wrong secret: the servers refuse the handshake and the client says why.
            var wrong = cluster.clientConfiguration("mallory", secret: "not-the-secret")
            wrong.startTimeout = .seconds(2)
            do {
                _ = try await P2PClient.start(wrong)
                Issue.record("a client with the wrong secret started")
            } catch let error as ClientError {
                guard case .noReachableServer(let reasons) = error else { throw error }
                #expect(reasons.count == 3)
                #expect(reasons.values.allSatisfy { $0.contains("authentication") || $0.contains("closed") || $0.contains("lost") }, "\(reasons)")
            }

            // No reachable server.
            var nowhere = ClientConfiguration(servers: ["127.0.0.1:1"])
            nowhere.stateDirectory = cluster.root + "/nowhere"
            nowhere.startTimeout = .seconds(1)
            await #expect(throws: ClientError.self) { _ = try await P2PClient.start(nowhere) }

            // None of that consumed a sequence number or left anything behind.
            async let received = Self.collect(bob, count: 1)
            try await alice.send(to: bob.id, data: Array("fine".utf8))
            let messages = try await received
            #expect(messages.map(\.id.sequence) == [1])
            #expect(messages.map(\.data) == [Array("fine".utf8)])
        }
    }
}
}

/// Counts sends from many tasks.
final class SendProgress: Sendable {
    private let state = Mutex<(succeeded: Set<Int>, finished: Int)>(([], 0))
    func succeeded(_ i: Int) { state.withLock { _ = $0.succeeded.insert(i) } }
    func finished() { state.withLock { $0.finished += 1 } }
    var finishedCount: Int { state.withLock { $0.finished } }
    var succeededCount: Int { state.withLock { $0.succeeded.count } }
}
