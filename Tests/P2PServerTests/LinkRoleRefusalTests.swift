import ClusterHarness
import Foundation
import P2PCore
import Testing
import TestSupport
import Transport
import WireCodec

/// Link-level refusals against real servers: a client link cannot speak for a server, and the
/// server and admin roles need their own secrets (`p2pcore-attack`, `Scripts/attack`, runs these
/// and many more attacks against a live cluster). One cluster for all three: starting and
/// stopping one is most of the time.
extension ServerProcessSuites {
@Suite struct LinkRoleRefusalTests {
    static func configuration(_ cluster: LocalCluster) -> LinkConfiguration {
        var configuration = LinkConfiguration(identity: .generate(), secret: cluster.secret)
        configuration.handshakeTimeout = .seconds(5)
        return configuration
    }

    @Test func aClientLinkCannotSpeakForAServerAndTheServerAndAdminRolesNeedTheirSecrets() async throws {
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        let target = try #require(HostPort(cluster.addresses[0]))
        try await Self.aClientLinkThatSendsAServerHelloIsClosedUnanswered(cluster, target)
        try await Self.dialingAsAServerWithoutTheServerSecretFailsTheHandshake(cluster, target)
        try await Self.theAdminRoleIsRefusedWithoutTheAdminSecret(cluster, target)
    }

    static func aClientLinkThatSendsAServerHelloIsClosedUnanswered(_ cluster: LocalCluster, _ target: HostPort) async throws {
        let link = try await LinkDialer.connect(host: target.host, port: target.port, role: .client, configuration: configuration(cluster))
        #expect(link.peer.role == .server)
        // A server hello (version 1, an address, a member, 2 peers, no voters) as the first frame.
        var hello = ByteWriter()
        hello.write(UInt8(1))
        hello.write("127.0.0.1:1")
        hello.write(true)
        hello.write(UInt32(2))
        hello.write(array: [NodeID]()) { $0.write($1) }
        let sent = ContinuousClock.now
        try link.send(type: Link.firstApplicationType, hello.bytes)
        let watchdog = Task {
            try await Task.sleep(for: .seconds(10))  // a deadline: the server should close far sooner
            link.close()
        }
        defer { watchdog.cancel() }
        var answered: [UInt8] = []
        do {
            for try await frame in link.inbound { answered.append(frame.type) }
        } catch {}
        #expect(ContinuousClock.now - sent < .seconds(9), "the server left the link open")
        #expect(answered.isEmpty, "the server answered a client's server hello with frames \(answered)")
    }

    static func dialingAsAServerWithoutTheServerSecretFailsTheHandshake(_ cluster: LocalCluster, _ target: HostPort) async throws {
        for guess in [cluster.secret, cluster.adminSecret, "a-guessed-server-secret"] {
            var configuration = configuration(cluster)
            configuration.serverSecret = guess
            await #expect(throws: TransportError.self) {
                try await LinkDialer.connect(host: target.host, port: target.port, role: .server, configuration: configuration)
            }
        }
    }

    static func theAdminRoleIsRefusedWithoutTheAdminSecret(_ cluster: LocalCluster, _ target: HostPort) async throws {
        for guess in [cluster.secret, "a-guessed-admin-secret"] {
            var configuration = configuration(cluster)
            configuration.adminSecret = guess
            await #expect(throws: TransportError.self) {
                try await LinkDialer.connect(host: target.host, port: target.port, role: .admin, configuration: configuration)
            }
        }
        // The operator's secret opens it: the refusals above are about the secret, not the role.
        var configuration = configuration(cluster)
        configuration.adminSecret = cluster.adminSecret
        let link = try await LinkDialer.connect(host: target.host, port: target.port, role: .admin, configuration: configuration)
        #expect(link.peer.role == .server)
        link.close()
    }
}
}
