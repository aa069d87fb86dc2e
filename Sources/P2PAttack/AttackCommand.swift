import AdminProtocol
import ArgumentParser
import ClientProtocol
import ClusterHarness
import Foundation
import Logging
import Mailbox
import MessageModel
import P2PClient
import P2PCore

/// `p2pcore-attack`: a hostile client against a live cluster of real `p2pcore-server` processes.
@main
struct AttackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "p2pcore-attack",
        abstract: "Attacks a live 3-server cluster as a hostile client would, and shows every attack refused.",
        discussion: """
        Starts three p2pcore-server processes on loopback (the build beside this executable), two
        real clients, then runs each attack with nothing but what a client holds (the cluster
        secret): server frames on a client link, dialling as a server or an operator, reading or
        purging another client's mailbox, claiming another node's id, Raft messages at term and
        index UInt64.max, memory exhaustion (unread answers, huge frame announcements, idle
        connections and links, random frames before and after the handshake), offline guessing
        of the secrets, oversized hellos, nested batch frames and arbitrary direct-path candidates. Prints one line per
        attack and a summary; exits non-zero if any attack got through or the cluster did not
        survive. Memory bound: every server under 2x its idle RSS; `mailbox-admin status` under 1 s.

        Examples:
          p2pcore-attack
          p2pcore-attack --idle-connections 500 --random-frames 2000
        """,
        version: P2PCoreVersion.current
    )

    @Option(help: "The p2pcore-server binary (default: the one beside this executable).")
    var serverBinary: String?

    @Option(help: "The mailbox-admin binary (default: the one beside this executable).")
    var adminBinary: String?

    @Option(help: "Unread `clients` queries sent by the client that never reads.")
    var queries = 200

    @Option(help: "Clients registered (with many LAN addresses) so that `clients` answers are large.")
    var registryClients = 300

    @Option(help: "Unauthenticated connections per server each announcing a 16 MiB frame.")
    var announcements = 40

    @Option(help: "Idle TCP connections per server.")
    var idleConnections = 2000

    @Option(help: "Idle authenticated client links (never sending a hello) to one server.")
    var idleLinks = 2000

    @Option(help: "Random frames per server, before and again after a valid handshake.")
    var randomFrames = 10_000

    @Option(help: "Seed of the random frames.")
    var seed: UInt64 = 1

    @Option(help: "Run only the attacks whose names start with one of these (comma-separated), e.g. memory-idle,offline.")
    var only: String?

    @Option(help: "Write the servers' log lines to this file when done.")
    var serverLog: String?

    @Option(help: "An extra argument for every server (repeatable), e.g. --server-argument=--log-level=debug.")
    var serverArgument: [String] = []

    func run() async throws {
        raiseFileLimit()
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let serverBinary = serverBinary ?? here.appendingPathComponent("p2pcore-server").path
        let adminBinary = adminBinary ?? here.appendingPathComponent("mailbox-admin").path
        guard FileManager.default.isExecutableFile(atPath: adminBinary) else {
            throw ValidationError("mailbox-admin is not built at \(adminBinary)")
        }
        print("starting 3 servers (\(serverBinary))")
        let cluster = try await LocalCluster.start(size: 3, binary: serverBinary, serverArguments: serverArgument)
        defer {
            cluster.stop()
            if let serverLog { try? cluster.log.all.joined(separator: "\n").write(toFile: serverLog, atomically: true, encoding: .utf8) }
        }
        var options = AttackOptions()
        options.queries = queries
        options.registryClients = registryClients
        options.announcements = announcements
        options.idleConnections = idleConnections
        options.idleLinks = idleLinks
        options.randomFrames = randomFrames
        options.only = only.map { $0.split(separator: ",").map(String.init) } ?? []

        var servers: [ServerTarget] = []
        var serverIDs: [String: NodeID] = [:]
        for server in cluster.servers {
            guard let pid = server.processID, let address = HostPort(server.address) else { throw ValidationError("\(server.name) is not running") }
            servers.append(ServerTarget(name: server.name, address: address, pid: pid, dataDirectory: server.dataDirectory))
            serverIDs[server.name] = server.nodeID.flatMap(NodeID.init(uuidString:))
        }
        let leaderProcess = try await cluster.agreedLeader().server
        guard let leader = servers.first(where: { $0.name == leaderProcess.name }),
              let follower = servers.first(where: { $0.name != leaderProcess.name })
        else { throw ValidationError("no leader") }

        // Two real clients, attached before the attacks and checked after them.
        let quiet = Logger(label: "p2pcore.attack.client") { _ in SwiftLogNoOpLogHandler() }
        let alice = try await P2PClient.start(cluster.clientConfiguration("alice"), logger: quiet)
        let bob = try await P2PClient.start(cluster.clientConfiguration("bob"), logger: quiet)
        let victim = try await Self.victimWithMail(servers[0], secret: cluster.secret)

        // Idle memory, once everything settled.
        try await Task.sleep(for: .seconds(3))
        let sampler = MemorySampler(pids: servers.map { ($0.name, $0.pid) })
        var idle: [String: Int] = [:]
        for _ in 0..<5 {
            for (name, bytes) in sampler.current() { idle[name] = max(idle[name] ?? 0, bytes) }
            try await Task.sleep(for: .milliseconds(200))
        }
        print("idle rss: " + servers.map { server in
            let split = MemorySampler.residentSplit(of: server.pid)
            return "\(server.name)=\(megabytes(idle[server.name] ?? 0))MB (anon \(megabytes(split.anonymous)), file \(megabytes(split.file)))"
        }.joined(separator: " "))

        let context = AttackContext(
            servers: servers, secret: cluster.secret, adminSecret: cluster.adminSecret, adminBinary: adminBinary, idleRSS: idle, options: options
        )
        var outcomes: [AttackOutcome] = []
        func report(_ new: [AttackOutcome]) {
            for outcome in new { print(outcome.line) }
            outcomes += new
        }
        report(await LinkRoleAttacks(
            context: context, victim: victim, realClient: alice.id, leader: leader, follower: follower, serverIDs: serverIDs
        ).run())
        report(await context.run([("offline-guessing", { await OfflineGuessingAttack(context: context).run() })]))
        let fields = FieldAttacks(context: context, realClient: alice.id)
        report(await fields.run())
        if options.selected("self-reported-candidates") {
            print("note self-reported-candidates: \(await fields.selfReportedCandidates())")
        }
        report(await MemoryAttacks(context: context, seed: seed).run())

        // Afterwards: every server alive, the cluster healthy, real clients still served.
        let dead = context.deadServers()
        let status = await context.status(via: leader)
        let leaders = status.status?.servers.filter { $0.role == "leader" }.count ?? 0
        let healthy = status.status?.healthy == true && leaders == 1
        print("check status-after: \(status.summary), \(leaders) leader(s)")
        let exchanged = await Self.exchange(alice, bob)
        print("check real-clients-exchange: \(exchanged ?? "ok (alice→bob and bob→alice delivered)")")
        await alice.shutdown()
        await bob.shutdown()

        let vulnerable = outcomes.filter { !$0.refused }.count
        let totals = context.summaryTotals
        let idleMax = idle.values.max() ?? 0
        let alive = servers.count - dead.count
        let pass = vulnerable == 0 && dead.isEmpty && healthy && status.passes && exchanged == nil
        print(
            "attack-suite servers=\(servers.count) attacks=\(outcomes.count) refused=\(outcomes.count - vulnerable) vulnerable=\(vulnerable) "
                + "rss-idle=\(megabytes(idleMax))MB rss-max=\(megabytes(totals.peakRSS))MB (\(String(format: "%.2f", totals.worstRatio))x) "
                + "status-after=\(status.elapsed.wholeMilliseconds)ms servers-alive=\(alive) healthy=\(healthy ? "yes" : "no") result=\(pass ? "PASS" : "FAIL")"
        )
        if !pass { throw ExitCode.failure }
    }

    struct SetupFailed: Error, CustomStringConvertible {
        let description: String
    }

    /// Registers a client that then goes offline with one message waiting in its mailbox (the
    /// mailbox attacks try to read or purge it).
    static func victimWithMail(_ server: ServerTarget, secret: String) async throws -> NodeID {
        let victim = try await HostileClient.dial(server.address, secret: secret)
        guard case .welcome? = await victim.hello().push else { throw SetupFailed(description: "the victim was not welcomed") }
        victim.close()
        let sender = try await HostileClient.dial(server.address, secret: secret)
        defer { sender.close() }
        guard case .welcome? = await sender.hello().push else { throw SetupFailed(description: "the victim's correspondent was not welcomed") }
        let message = MailMessage(id: MessageID(sender: sender.id, sequence: 1), recipient: victim.id, payload: Array("for the victim only".utf8), enqueuedAtMillis: 0)
        try sender.send(.send(request: 1, message: message))
        let (push, end) = await sender.nextPush(within: .seconds(30))
        guard case .sendResult(_, .stored)? = push else {
            throw SetupFailed(description: "the victim's message was not stored: \(push.map { "\($0)" } ?? end.map { "\($0)" } ?? "?")")
        }
        return victim.id
    }

    /// Alice and Bob exchange one message each way; `nil` if both arrived, else what failed.
    static func exchange(_ alice: P2PClient, _ bob: P2PClient) async -> String? {
        for (from, to, text) in [(alice, bob, "after the attacks, alice→bob"), (bob, alice, "after the attacks, bob→alice")] {
            let receiving = Task { () -> [UInt8]? in
                for try await message in to.receive() where message.from == from.id { return message.data }
                return nil
            }
            let deadline = Task {
                try await Task.sleep(for: .seconds(40))
                receiving.cancel()
            }
            defer { deadline.cancel() }
            do {
                _ = try await from.send(to: to.id, data: Array(text.utf8), timeout: .seconds(30))
            } catch {
                receiving.cancel()
                return "FAILED (\(text): send failed: \(error))"
            }
            guard let data = try? await receiving.value, data == Array(text.utf8) else { return "FAILED (\(text) not received)" }
        }
        return nil
    }

    /// Thousands of connections need thousands of descriptors (the servers started from here
    /// inherit the limit too, as servers under a service manager typically have a high one).
    private func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
}
