import ClusterHarness
import Foundation
import Logging
import MessageModel
import P2PCore
import Raft
import Testing
import TestSupport
@testable import Mailbox
@testable import P2PServer

/// A server that joins a running cluster whose log was compacted long ago gets the mailbox
/// state streamed in chunks over its server links, while the cluster keeps taking commands.
extension ServerProcessSuites {
@Suite struct SnapshotStreamTests {
    @Test func aServerAddedAfterCompactionCatchesUpThroughChunksWhileCommandsContinue() async throws {
        let scratch = TemporaryDirectory("snapshot-stream")
        let ports = try await ServerProcess.freePorts(4)
        let secret = Secret.generate(), serverSecret = Secret.generate()
        let addresses = ports.map { "127.0.0.1:\($0)" }
        func configuration(_ index: Int, peers: [String]) -> ServerConfiguration {
            var configuration = ServerConfiguration()
            configuration.listenPort = ports[index]
            configuration.peers = peers
            configuration.dataDirectory = "\(scratch.path)/s\(index + 1)"
            configuration.secret = secret
            configuration.serverSecret = serverSecret
            configuration.compactEvery = 10
            configuration.snapshotChunkBytes = 8 << 10
            return configuration
        }
        var logger = Logger(label: "p2pcore.test.snapshot")
        logger.logLevel = .warning
        var servers: [P2PServer] = []
        do {
            for index in 0..<3 {
                let peers = addresses[0..<3].filter { $0 != addresses[index] }
                servers.append(try await P2PServer.start(configuration: configuration(index, peers: peers), logger: logger))
            }
            try await joinAfterCompaction(servers: &servers, newcomer: configuration(3, peers: [addresses[0]]), logger: logger)
        } catch {
            for server in servers { await server.shutdown() }
            throw error
        }
        for server in servers { await server.shutdown() }
    }

    private func joinAfterCompaction(servers: inout [P2PServer], newcomer newcomerConfiguration: ServerConfiguration, logger: Logger) async throws {
        let leader = try await agreedLeader(servers)

        // Mail for a recipient that is away: some 400 KB of queued state, in batches.
        let alice = NodeID.random(), bob = NodeID.random()
        _ = try await proposeUntilKnown(at: leader, .batch([.register(ClientRecord(id: alice, publicKey: [1])), .register(ClientRecord(id: bob, publicKey: [2]))]))
        @Sendable func enqueueBatch(_ sequences: ClosedRange<UInt64>) -> MailboxCommand {
            .batch(sequences.map { sequence in
                .enqueue(MailMessage(id: MessageID(sender: alice, sequence: sequence), recipient: bob, payload: [UInt8](repeating: 7, count: 256), enqueuedAtMillis: 0))
            })
        }
        for batch in UInt64(0)..<30 {
            #expect(try await proposeUntilKnown(at: leader, enqueueBatch(batch * 50 + 1...batch * 50 + 50)) == .batch(Array(repeating: .stored, count: 50)))
        }
        #expect(try await leader.compact() > 30)

        // The newcomer joins through one member while commands keep committing.
        let newcomer = try await P2PServer.start(configuration: newcomerConfiguration, logger: logger)
        servers.append(newcomer)
        let committing = Task {
            for batch in UInt64(0)..<20 {
                let outcome = try await self.proposeUntilKnown(at: leader, enqueueBatch(1_501 + batch * 10...1_510 + batch * 10))
                #expect(outcome == .batch(Array(repeating: .stored, count: 10)))
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        try await committing.value
        let caughtUp = try await eventually(timeout: .seconds(60)) {
            guard let replica = newcomer.replica, await replica.membership.voters.contains(newcomer.id) else { return false }
            return try await replica.mailboxes.digest().digest == leader.mailboxes.digest().digest
        }
        #expect(caughtUp, "the newcomer did not catch up")
        #expect(try await newcomer.replica?.mailboxes.stats(for: bob).messages == 1_700)
        // It got the state as a snapshot (its log starts after one), not by replaying the log.
        #expect(try #require(await newcomer.replica?.node.snapshotIndex) > 0)
    }

    /// Proposes `command` at `replica` until its outcome is known: a leader change, or a commit
    /// slower than a proposal's timeout while CPU-heavy suites run beside this one, loses a
    /// proposal, and the caller retries (these commands are idempotent).
    private func proposeUntilKnown(at replica: ReplicatedMailboxes, _ command: MailboxCommand) async throws -> MailboxOutcome {
        var lost = 0
        while true {
            do {
                return try await replica.propose(command)
            } catch ReplicatedMailboxes.ProposalError.lost where lost < 5 {
                lost += 1
            }
        }
    }

    private func agreedLeader(_ servers: [P2PServer]) async throws -> ReplicatedMailboxes {
        var found: ReplicatedMailboxes?
        let elected = try await eventually(timeout: .seconds(30)) {
            for server in servers {
                if let replica = server.replica, await replica.role == .leader {
                    found = replica
                    return true
                }
            }
            return false
        }
        try #require(elected)
        return try #require(found)
    }
}
}
