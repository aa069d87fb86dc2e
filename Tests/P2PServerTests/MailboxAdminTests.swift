import AdminProtocol
import ClusterHarness
import Foundation
import P2PClient
import P2PCore
import Testing

/// The built `mailbox-admin` binary against a live 3-server cluster.
extension ServerProcessSuites {
@Suite struct MailboxAdminTests {
    struct Run: Sendable {
        let code: Int32
        let stdout: String
        let stderr: String
    }

    static var binary: String {
        URL(fileURLWithPath: LocalCluster.testBinary).deletingLastPathComponent().appendingPathComponent("mailbox-admin").path
    }

    /// Runs `mailbox-admin arguments… --server address --secret secret`.
    static func admin(_ arguments: [String], server address: String, secret: String = "test-secret", environment: [String: String] = [:]) async throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments + ["--server", address, "--secret", secret]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { exited.continuation.yield($0.terminationStatus) }
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        var codes = exited.stream.makeAsyncIterator()
        let code = await codes.next() ?? -1
        return Run(code: code, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func json<T: Decodable>(_ type: T.Type, _ arguments: [String], server: String) async throws -> T {
        let run = try await admin(arguments + ["--json"], server: server)
        try #require(run.code == 0, "mailbox-admin \(arguments) exited \(run.code): \(run.stderr)")
        return try JSONDecoder().decode(type, from: Data(run.stdout.utf8))
    }

    /// Polls `condition` (each poll runs the admin binary) until it holds; the cluster applies
    /// changes on followers a heartbeat after the leader, and there is no event to await across
    /// processes.
    static func eventually(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            try #require(ContinuousClock.now < deadline, "timed out waiting for \(what)")
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    @Test func statusPurgeAndErrorsExitCodes() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "mailbox-admin is not built at \(Self.binary)")
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        try await cluster.agreedLeader()

        let status = try await Self.json(ClusterStatus.self, ["status"], server: cluster.addresses[1])
        #expect(status.servers.count == 3)
        #expect(status.servers.filter { $0.role == "leader" }.count == 1)
        #expect(status.healthy)
        let table = try await Self.admin(["status"], server: cluster.addresses[0])
        #expect(table.code == 0 && table.stdout.contains("cluster healthy"))

        // Five messages wait in offline bob's mailbox.
        let alice = try await P2PClient.start(cluster.clientConfiguration("alice"))
        let bob = try await P2PClient.start(cluster.clientConfiguration("bob"))
        defer { Task { await alice.shutdown() } }
        await bob.shutdown()
        for i in 0..<5 {
            do {
                try await alice.send(to: bob.id, data: Array("mail \(i)".utf8), timeout: .seconds(1))
                Issue.record("send to an offline client returned")
            } catch let error as SendError {
                #expect(error.willStillBeDelivered)
            }
        }
        for address in cluster.addresses {
            try await Self.eventually("5 messages in bob's mailbox on \(address)") {
                try await Self.json(MailboxReport.self, ["mailbox", "show", "\(bob.id)"], server: address).messages == 5
            }
        }
        let peek = try await Self.json(MailboxReport.self, ["mailbox", "show", "\(bob.id)", "--peek", "2"], server: cluster.addresses[2])
        #expect(peek.peek.map(\.payload) == [Array("mail 0".utf8), Array("mail 1".utf8)])
        #expect(peek.peek.allSatisfy { $0.sender == alice.id })
        let clients = try await Self.json([ClientSummary].self, ["clients"], server: cluster.addresses[0])
        #expect(clients.first { $0.id == bob.id }.map { !$0.online && $0.mailboxMessages == 5 } == true)

        let first = try #require(peek.peek.first?.id)
        let delete = try await Self.admin(["mailbox", "delete", "\(bob.id)", "\(first)", "--yes"], server: cluster.addresses[1])
        #expect(delete.code == 0, "\(delete.stderr)")
        let deleteAgain = try await Self.admin(["mailbox", "delete", "\(bob.id)", "\(first)", "--yes"], server: cluster.addresses[1])
        #expect(deleteAgain.code == 2, "a message already gone is 'not found'")
        for address in cluster.addresses {
            try await Self.eventually("4 messages in bob's mailbox on \(address)") {
                try await Self.json(MailboxReport.self, ["mailbox", "show", "\(bob.id)"], server: address).messages == 4
            }
        }

        let purge = try await Self.admin(["mailbox", "purge", "\(bob.id)", "--yes"], server: cluster.addresses[2])
        #expect(purge.code == 0, "\(purge.stderr)")
        #expect(purge.stdout.contains("purged 4 messages"))
        for address in cluster.addresses {
            try await Self.eventually("an empty mailbox on \(address)") {
                try await Self.json(MailboxReport.self, ["mailbox", "show", "\(bob.id)"], server: address).messages == 0
            }
        }

        // Bob comes back: the removed messages are skipped (never handed to him), and alice's
        // next message is not held back behind them.
        let bobAgain = try await P2PClient.start(cluster.clientConfiguration("bob"))
        defer { Task { await bobAgain.shutdown() } }
        let next = Task { try await RelayDeliveryTests.collect(bobAgain, count: 1) }
        try await alice.send(to: bobAgain.id, data: Array("after the purge".utf8), timeout: .seconds(30))
        #expect(try await next.value.map(\.data) == [Array("after the purge".utf8)])

        // Declining the prompt (no terminal input) purges nothing and says so.
        let declined = try await Self.admin(["mailbox", "purge", "\(bob.id)"], server: cluster.addresses[0])
        #expect(declined.code == 1)

        let wrongSecret = try await Self.admin(["status"], server: cluster.addresses[0], secret: "not-the-secret")
        #expect(wrongSecret.code == 4)
        #expect(wrongSecret.stderr.contains("refused the secret"))
        let unusedPort = try await ServerProcess.freePorts(1)[0]
        let unreachable = try await Self.admin(["status"], server: "127.0.0.1:\(unusedPort)")
        #expect(unreachable.code == 3)
        #expect(unreachable.stderr.contains("cannot reach"))
        let unknown = try await Self.admin(["mailbox", "show", "\(NodeID.random())"], server: cluster.addresses[0])
        #expect(unknown.code == 2)
        #expect(unknown.stderr.contains("no client"))
        let badUsage = try await Self.admin(["mailbox", "show", "not-an-id"], server: cluster.addresses[0])
        #expect(badUsage.code == 64)
    }

    @Test func aClusterWithAnAdminSecretRefusesAdminRequestsWithoutIt() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "mailbox-admin is not built at \(Self.binary)")
        let cluster = try await LocalCluster.start(size: 3, binary: LocalCluster.testBinary, serverArguments: ["--admin-secret", "operators-only"])
        defer { cluster.stop() }
        try await cluster.agreedLeader()
        // The cluster secret alone (which every client holds) is not enough.
        let refused = try await Self.admin(["clients"], server: cluster.addresses[0])
        #expect(refused.code == 4)
        #expect(refused.stderr.contains("admin secret"))
        let wrong = try await Self.admin(["clients", "--admin-secret", "guess"], server: cluster.addresses[0])
        #expect(wrong.code == 4)
        let allowed = try await Self.admin(["status"], server: cluster.addresses[1], environment: ["P2PCORE_ADMIN_SECRET": "operators-only"])
        #expect(allowed.code == 0, "\(allowed.stderr)")
    }

    @Test func removeAndAddAServerAndTransferLeadership() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "mailbox-admin is not built at \(Self.binary)")
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        let (leader, _) = try await cluster.agreedLeader()
        let follower = try #require(cluster.servers.first { $0 !== leader })
        let followerID = try #require(follower.nodeID)
        let other = try #require(cluster.servers.first { $0 !== leader && $0 !== follower })
        let otherAddress = "127.0.0.1:\(other.port)"

        let removed = try await Self.admin(["server", "remove", followerID], server: otherAddress)
        #expect(removed.code == 0, "\(removed.stderr)")
        try await Self.eventually("a healthy two-server cluster") {
            let status = try await Self.json(ClusterStatus.self, ["status"], server: otherAddress)
            return status.healthy && status.servers.map { "\($0.id)" }.sorted() == [leader.nodeID, other.nodeID].compactMap { $0 }.sorted()
        }

        // Restarted, the removed server stays out until an operator adds it back.
        try await cluster.log.wait(for: "the removed server to note its removal") { lines in
            lines.contains { $0.hasPrefix("[\(follower.name)]") && $0.contains("this server was removed from the cluster") } ? true : nil
        }
        follower.stop()
        try cluster.start(follower)
        try await cluster.log.wait(for: "the restarted server to stay out") { lines in
            lines.contains { $0.hasPrefix("[\(follower.name)]") && $0.contains("does not rejoin by itself") } ? true : nil
        }
        let stillTwo = try await Self.json(ClusterStatus.self, ["status"], server: otherAddress)
        #expect(stillTwo.servers.count == 2)

        let added = try await Self.admin(["server", "add", "127.0.0.1:\(follower.port)"], server: otherAddress)
        #expect(added.code == 0, "\(added.stderr)")
        try await Self.eventually("a healthy cluster of three voters") {
            let status = try await Self.json(ClusterStatus.self, ["status"], server: otherAddress)
            return status.healthy && status.servers.count == 3 && status.servers.allSatisfy(\.voter)
        }

        // Still serving: a message goes from alice to bob.
        let alice = try await P2PClient.start(cluster.clientConfiguration("alice"))
        let bob = try await P2PClient.start(cluster.clientConfiguration("bob"))
        defer { Task { await alice.shutdown(); await bob.shutdown() } }
        let got = Task { try await RelayDeliveryTests.collect(bob, count: 1) }
        try await alice.send(to: bob.id, data: Array("still here".utf8), timeout: .seconds(30))
        #expect(try await got.value.map(\.data) == [Array("still here".utf8)])

        // Leadership moves away, then back to a named server.
        let before = try #require(try await Self.json(ClusterStatus.self, ["status"], server: otherAddress).leader)
        let moved = try await Self.admin(["leader", "transfer"], server: otherAddress)
        #expect(moved.code == 0, "\(moved.stderr)")
        try await Self.eventually("every server following a new leader") {
            let status = try await Self.json(ClusterStatus.self, ["status"], server: otherAddress)
            return status.healthy && status.leader != nil && status.leader != before
        }
        let back = try await Self.admin(["leader", "transfer", "\(before)"], server: otherAddress)
        #expect(back.code == 0, "\(back.stderr)")
        try await Self.eventually("every server following \(before) again") {
            try await Self.json(ClusterStatus.self, ["status"], server: otherAddress).leader == before
        }

        let snapshot = try await Self.admin(["snapshot"], server: otherAddress)
        #expect(snapshot.code == 0 && snapshot.stdout.contains("snapshot taken"))
    }
}
}
