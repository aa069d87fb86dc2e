import ArgumentParser
import ClusterHarness
import Foundation
import Logging
import P2PClient
import P2PCore

/// The README's first command: a local cluster, two clients, offline mail and a leader crash,
/// narrated step by step.
@main
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "p2pcore-demo",
        abstract: "Runs 3 servers and 2 clients on loopback and shows relayed, durable delivery.",
        version: P2PCoreVersion.current
    )

    @Option(help: "The p2pcore-server binary (default: the one built beside this program).")
    var server: String?

    @Flag(help: "Also print the servers' logs.")
    var verbose = false

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let started = ContinuousClock.now
        func say(_ text: String) {
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(String(format: "[%6.2fs] ", seconds) + text)
        }

        say("Starting 3 p2pcore-server processes on loopback (data in a temporary directory)…")
        let cluster = try await LocalCluster.start(size: 3, binary: server ?? LocalCluster.siblingBinary)
        defer {
            cluster.stop()
            say("Stopped every server and removed \(cluster.root).")
        }
        if verbose { for line in cluster.log.all { print("    " + line) } }
        for (name, address) in zip(cluster.names, cluster.addresses) { say("  server \(name) listens on \(address)") }
        var (leader, term) = try await cluster.agreedLeader()
        say("The servers formed a Raft cluster: \(leader.name) leads (term \(term)).")

        let alice = try await P2PClient.start(cluster.clientConfiguration("alice"))
        var bob = try await P2PClient.start(cluster.clientConfiguration("bob"))
        say("Client alice started with id \(alice.id)")
        say("Client bob   started with id \(bob.id)")

        // Messages both ways; each send returns once the other application has the message.
        try await exchange(from: alice, "alice", to: bob, "bob", text: "hello bob", say: say)
        try await exchange(from: bob, "bob", to: alice, "alice", text: "hi alice, got your message", say: say)

        say("bob goes offline (his client stops; his id and ledger stay in his state directory).")
        let bobID = bob.id
        await bob.shutdown()
        for i in 1...3 {
            let text = "mail #\(i) for bob while he is away"
            do {
                try await alice.send(to: bobID, data: Array(text.utf8), timeout: .seconds(1))
                say("alice → bob: '\(text)' was delivered (unexpected while bob is offline)")
            } catch let error as SendError where error.willStillBeDelivered {
                say("alice → bob: '\(text)': \(error)")
            }
        }

        say("The operator's view of bob's mailbox, from any server:")
        await admin(["mailbox", "show", "\(bobID)", "--peek", "3", "--payload"], cluster)

        say("SIGKILL the leader \(leader.name)…")
        leader.kill(signal: SIGKILL)
        let killed = leader
        (leader, term) = try await cluster.agreedLeader(among: cluster.names.filter { $0 != killed.name }, after: term)
        say("The two survivors elected \(leader.name) (term \(term)); the mail is on their disks.")

        bob = try await P2PClient.start(cluster.clientConfiguration("bob"))
        say("bob is back with the same id \(bob.id); his mailbox is pushed to him:")
        var inbox = bob.receive().makeAsyncIterator()
        for _ in 1...3 {
            guard let message = try await inbox.next() else { break }
            say("  bob received from alice (#\(message.id.sequence)): '\(String(decoding: message.data, as: UTF8.self))'")
        }

        try cluster.start(killed)
        _ = try await cluster.agreedLeader(after: term - 1)
        say("\(killed.name) restarted from its data directory and rejoined the cluster.")
        try await exchange(from: alice, "alice", to: bob, "bob", text: "welcome back, bob", say: say)
        say("The cluster as mailbox-admin shows it:")
        await admin(["status"], cluster)

        await alice.shutdown()
        await bob.shutdown()
        say("Both clients stopped.")
    }

    /// Runs `mailbox-admin` (built beside this program) against the cluster and prints its
    /// output indented, with the command line first.
    private func admin(_ arguments: [String], _ cluster: LocalCluster) async {
        let binary = URL(fileURLWithPath: server ?? LocalCluster.siblingBinary).deletingLastPathComponent().appendingPathComponent("mailbox-admin").path
        let full = arguments + ["--data-dir", cluster.servers[0].dataDirectory]
        print("    $ mailbox-admin " + full.joined(separator: " "))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = full
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        do {
            try process.run()
        } catch {
            print("    (cannot run \(binary): \(error))")
            return
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() { print("    " + line) }
    }

    private func exchange(
        from sender: P2PClient, _ senderName: String, to recipient: P2PClient, _ recipientName: String,
        text: String, say: (String) -> Void
    ) async throws {
        async let received = { () async throws -> ReceivedMessage? in
            var iterator = recipient.receive().makeAsyncIterator()
            return try await iterator.next()
        }()
        let start = ContinuousClock.now
        try await sender.send(to: recipient.id, data: Array(text.utf8))
        let took = ContinuousClock.now - start
        let message = try await received
        say("\(senderName) → \(recipientName): '\(text)' — send returned after \(took.formatted(.units(allowed: [.milliseconds]))), once \(recipientName)'s app had it")
        if let message, message.data != Array(text.utf8) { say("  (but \(recipientName) received something else!)") }
    }
}
