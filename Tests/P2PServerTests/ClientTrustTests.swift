import ClientProtocol
import ClusterHarness
import Foundation
import Mailbox
import MessageModel
import P2PClient
import P2PCore
import Testing
import TestSupport
import Transport

/// A client trusts only servers that prove the cluster key on its own link.
extension ServerProcessSuites {
@Suite struct ClientTrustTests {
    /// A node that holds the cluster secret (as every client does) and listens as a "server":
    /// it answers a client's hello with a welcome signed by a cluster key of its own.
    private static func impostor(secret: String) async throws -> LinkListener {
        var configuration = LinkConfiguration(identity: .generate(), secret: secret)
        configuration.role = .server
        let listener = try await LinkListener.bind(host: "127.0.0.1", port: 0, configuration: configuration)
        let ownKey = ClusterKey(serverSecret: Secret.generate())
        let me = configuration.identity.id
        Task {
            for await link in listener.links {
                Task {
                    var frames = link.inbound.makeAsyncIterator()
                    guard (try? await frames.next()) != nil else { return }
                    let welcome = ServerPush.welcome(
                        server: me, leader: me, clusterKey: ownKey.publicKeyBytes,
                        proof: ownKey.proof(channelBinding: link.peer.channelBinding, server: me)
                    )
                    try? link.send(type: ClientProtocol.pushFrame, welcome.encoded())
                    try? link.send(type: ClientProtocol.pushFrame, ServerPush.deliver(MailMessage(
                        id: MessageID(sender: .random(), sequence: 1), recipient: link.peer.id, payload: [1], enqueuedAtMillis: 0
                    )).encoded())
                    while (try? await frames.next()) != nil {}
                }
            }
        }
        return listener
    }

    @Test func aClientPosingAsAServerIsNotTrusted() async throws {
        let secret = Secret.generate()
        let listener = try await Self.impostor(secret: secret)
        defer { listener.close() }
        let scratch = TemporaryDirectory("trust")
        let root = scratch.path
        var configuration = ClientConfiguration(servers: ["127.0.0.1:\(listener.port)"])
        configuration.stateDirectory = root + "/victim"
        configuration.secret = secret
        configuration.clusterKey = ClusterKey(serverSecret: Secret.generate()).fingerprint  // the real cluster's
        configuration.startTimeout = .seconds(10)
        configuration.directTunnels = false
        do {
            let client = try await P2PClient.start(configuration)
            await client.shutdown()
            Issue.record("the client trusted an impostor")
        } catch ClientError.noReachableServer(let reasons) {
            #expect(reasons.values.allSatisfy { $0.contains("untrusted server") && $0.contains("not the trusted") }, "\(reasons)")
        }
    }

    @Test func aClientPinsTheFirstClusterAndLaterTrustsNewServersOfIt() async throws {
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        let alice = try await P2PClient.start(cluster.clientConfiguration("alice"))
        await alice.shutdown()
        let pinned = try String(contentsOfFile: cluster.root + "/alice/cluster.key", encoding: .utf8)
        #expect(pinned.trimmingCharacters(in: .whitespacesAndNewlines) == ClusterKey(serverSecret: cluster.secrets.server).fingerprint)
        // The same state directory against an impostor: refused, the pin stays.
        let listener = try await Self.impostor(secret: cluster.secret)
        defer { listener.close() }
        var elsewhere = cluster.clientConfiguration("alice")
        elsewhere.servers = ["127.0.0.1:\(listener.port)"]
        elsewhere.startTimeout = .seconds(10)
        await #expect(throws: ClientError.self) { _ = try await P2PClient.start(elsewhere) }
    }
}
}
