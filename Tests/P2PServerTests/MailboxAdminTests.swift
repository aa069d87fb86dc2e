import AdminProtocol
import ClusterHarness
import Foundation
import P2PClient
import P2PCore
import Testing
import TestSupport

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

    /// Runs `mailbox-admin arguments… --server address` as `cluster`'s remote operator (its admin
    /// secret in the environment, unless `environment` says otherwise).
    static func admin(_ cluster: LocalCluster, _ arguments: [String], server address: String, environment: [String: String] = [:]) async throws -> Run {
        try await run(arguments + ["--server", address], environment: ["P2PCORE_ADMIN_SECRET": cluster.adminSecret].merging(environment) { $1 })
    }

    /// Runs `mailbox-admin arguments…` with `environment` added to this process's.
    static func run(_ arguments: [String], environment: [String: String]) async throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var inherited = ProcessInfo.processInfo.environment
        inherited["P2PCORE_ADMIN_SECRET"] = nil
        inherited["P2PCORE_SERVER"] = nil
        process.environment = inherited.merging(environment) { $1 }
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

    static func json<T: Decodable>(_ cluster: LocalCluster, _ type: T.Type, _ arguments: [String], server: String) async throws -> T {
        let run = try await admin(cluster, arguments + ["--json"], server: server)
        try #require(run.code == 0, "mailbox-admin \(arguments) exited \(run.code): \(run.stderr)")
        return try JSONDecoder().decode(type, from: Data(run.stdout.utf8))
    }

    /// Polls `condition` (each poll runs the admin binary) until it holds; the cluster applies
    /// changes on followers a heartbeat after the leader, and there is no event to await across
    /// processes.
    static func eventually(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        try #require(try await TestSupport.eventually(timeout: timeout, every: .milliseconds(200), condition), "timed out waiting for \(what)")
    }

    @Test func statusPurgeAndErrorsExitCodes() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "mailbox-admin is not built at \(Self.binary)")
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        try await cluster.agreedLeader()

        let status = try await Self.json(cluster, ClusterStatus.self, ["status"], server: cluster.addresses[1])
        #expect(status.servers.count == 3)
        #expect(status.servers.filter { $0.role == "leader" }.count == 1)
        #expect(status.healthy)
        let table = try await Self.admin(cluster, ["status"], server: cluster.addresses[0])
        #expect(table.code == 0 && table.stdout.contains("cluster healthy"))

        // Five messages wait in offline bob's mailbox.
        try await withClient(cluster.clientConfiguration("alice")) { alice in
            let bob = try await P2PClient.start(cluster.clientConfiguration("bob"))
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
                    try await Self.json(cluster, MailboxReport.self, ["mailbox", "show", "\(bob.id)"], server: address).messages == 5
                }
            }
            let peek = try await Self.json(cluster, MailboxReport.self, ["mailbox", "show", "\(bob.id)", "--peek", "2"], server: cluster.addresses[2])
            #expect(peek.peek.map(\.payload) == [Array("mail 0".utf8), Array("mail 1".utf8)])
            #expect(peek.peek.allSatisfy { $0.sender == alice.id })
            let clients = try await Self.json(cluster, [ClientSummary].self, ["clients"], server: cluster.addresses[0])
            #expect(clients.first { $0.id == bob.id }.map { !$0.online && $0.mailboxMessages == 5 } == true)

            let first = try #require(peek.peek.first?.id)
            let delete = try await Self.admin(cluster, ["mailbox", "delete", "\(bob.id)", "\(first)", "--yes"], server: cluster.addresses[1])
            #expect(delete.code == 0, "\(delete.stderr)")
            let deleteAgain = try await Self.admin(cluster, ["mailbox", "delete", "\(bob.id)", "\(first)", "--yes"], server: cluster.addresses[1])
            #expect(deleteAgain.code == 2, "a message already gone is 'not found'")
            for address in cluster.addresses {
                try await Self.eventually("4 messages in bob's mailbox on \(address)") {
                    try await Self.json(cluster, MailboxReport.self, ["mailbox", "show", "\(bob.id)"], server: address).messages == 4
                }
            }

            let purge = try await Self.admin(cluster, ["mailbox", "purge", "\(bob.id)", "--yes"], server: cluster.addresses[2])
            #expect(purge.code == 0, "\(purge.stderr)")
            #expect(purge.stdout.contains("purged 4 messages"))
            for address in cluster.addresses {
                try await Self.eventually("an empty mailbox on \(address)") {
                    try await Self.json(cluster, MailboxReport.self, ["mailbox", "show", "\(bob.id)"], server: address).messages == 0
                }
            }

            // Bob comes back: the removed messages are skipped (never handed to him), and alice's
            // next message is not held back behind them.
            try await withClient(cluster.clientConfiguration("bob")) { bobAgain in
                let next = Task { try await RelayDeliveryTests.collect(bobAgain, count: 1) }
                try await alice.send(to: bobAgain.id, data: Array("after the purge".utf8), timeout: .seconds(30))
                #expect(try await next.value.map(\.data) == [Array("after the purge".utf8)])

                // Declining the prompt (no terminal input) purges nothing and says so.
                let declined = try await Self.admin(cluster, ["mailbox", "purge", "\(bob.id)"], server: cluster.addresses[0])
                #expect(declined.code == 1)

                let wrongSecret = try await Self.admin(cluster, ["status"], server: cluster.addresses[0], environment: ["P2PCORE_ADMIN_SECRET": Secret.generate()])
                #expect(wrongSecret.code == 4)
                #expect(wrongSecret.stderr.contains("refused the admin secret"))
                let unusedPort = try await ServerProcess.freePorts(1)[0]
                let unreachable = try await Self.admin(cluster, ["status"], server: "127.0.0.1:\(unusedPort)")
                #expect(unreachable.code == 3)
                #expect(unreachable.stderr.contains("cannot reach"))
                let unknown = try await Self.admin(cluster, ["mailbox", "show", "\(NodeID.random())"], server: cluster.addresses[0])
                #expect(unknown.code == 2)
                #expect(unknown.stderr.contains("no client"))
                let badUsage = try await Self.admin(cluster, ["mailbox", "show", "not-an-id"], server: cluster.addresses[0])
                #expect(badUsage.code == 64)
            }
        }
    }

    @Test func adminNeedsTheOperatorCredentialOnEveryPath() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "mailbox-admin is not built at \(Self.binary)")
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        try await cluster.agreedLeader()
        // The cluster secret, which every client holds, is no admin credential.
        let asClient = try await Self.admin(cluster, ["clients"], server: cluster.addresses[0], environment: ["P2PCORE_ADMIN_SECRET": cluster.secret])
        #expect(asClient.code == 4)
        #expect(asClient.stderr.contains("refused the admin secret"))
        let none = try await Self.run(["clients", "--server", cluster.addresses[0]], environment: [:])
        #expect(none.code == 4)
        #expect(none.stderr.contains("admin secret"))
        let allowed = try await Self.admin(cluster, ["status"], server: cluster.addresses[1])
        #expect(allowed.code == 0, "\(allowed.stderr)")
        // Locally, the admin socket in the data directory needs no secret: its mode admits the server's user only.
        let socket = cluster.servers[0].dataDirectory + "/admin.sock"
        var info = stat()
        #expect(stat(socket, &info) == 0 && info.st_mode & 0o777 == 0o600)
        let local = try await Self.run(["status", "--data-dir", cluster.servers[0].dataDirectory], environment: [:])
        #expect(local.code == 0, "\(local.stderr)")
        #expect(local.stdout.contains("healthy"))
    }

    @Test func aServerWithoutAnAdminSecretTakesNoRemoteAdmin() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "mailbox-admin is not built at \(Self.binary)")
        var secrets = ClusterSecrets.generate()
        secrets.admin = ""
        let cluster = try await LocalCluster.start(size: 1, binary: LocalCluster.testBinary, secrets: secrets)
        defer { cluster.stop() }
        let refused = try await Self.run(["status", "--server", cluster.addresses[0]], environment: ["P2PCORE_ADMIN_SECRET": Secret.generate()])
        #expect(refused.code == 4, "\(refused.stderr)")
        let local = try await Self.run(["status", "--data-dir", cluster.servers[0].dataDirectory], environment: [:])
        #expect(local.code == 0, "\(local.stderr)")
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

        let removed = try await Self.admin(cluster, ["server", "remove", followerID], server: otherAddress)
        #expect(removed.code == 0, "\(removed.stderr)")
        try await Self.eventually("a healthy two-server cluster") {
            let status = try await Self.json(cluster, ClusterStatus.self, ["status"], server: otherAddress)
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
        let stillTwo = try await Self.json(cluster, ClusterStatus.self, ["status"], server: otherAddress)
        #expect(stillTwo.servers.count == 2)

        let added = try await Self.admin(cluster, ["server", "add", "127.0.0.1:\(follower.port)"], server: otherAddress)
        #expect(added.code == 0, "\(added.stderr)")
        try await Self.eventually("a healthy cluster of three voters") {
            let status = try await Self.json(cluster, ClusterStatus.self, ["status"], server: otherAddress)
            return status.healthy && status.servers.count == 3 && status.servers.allSatisfy(\.voter)
        }

        // Still serving: a message goes from alice to bob.
        try await withClients([cluster.clientConfiguration("alice"), cluster.clientConfiguration("bob")]) { clients in
            let (alice, bob) = (clients[0], clients[1])
            let got = Task { try await RelayDeliveryTests.collect(bob, count: 1) }
            try await alice.send(to: bob.id, data: Array("still here".utf8), timeout: .seconds(30))
            #expect(try await got.value.map(\.data) == [Array("still here".utf8)])

            // Leadership moves away, then back to a named server.
            let before = try #require(try await Self.json(cluster, ClusterStatus.self, ["status"], server: otherAddress).leader)
            let moved = try await Self.admin(cluster, ["leader", "transfer"], server: otherAddress)
            #expect(moved.code == 0, "\(moved.stderr)")
            try await Self.eventually("every server following a new leader") {
                let status = try await Self.json(cluster, ClusterStatus.self, ["status"], server: otherAddress)
                return status.healthy && status.leader != nil && status.leader != before
            }
            let back = try await Self.admin(cluster, ["leader", "transfer", "\(before)"], server: otherAddress)
            #expect(back.code == 0, "\(back.stderr)")
            try await Self.eventually("every server following \(before) again") {
                try await Self.json(cluster, ClusterStatus.self, ["status"], server: otherAddress).leader == before
            }

            let snapshot = try await Self.admin(cluster, ["snapshot"], server: otherAddress)
            #expect(snapshot.code == 0 && snapshot.stdout.contains("snapshot taken"))
        }
    }
}
}
