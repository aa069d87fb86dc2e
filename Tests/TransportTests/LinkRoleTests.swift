import NIOCore
import P2PCore
import Testing
import WireCodec
@testable import Transport

@Suite struct LinkRoleTests {
    static let serverSecret = "server-s3cret"

    /// A p2pcore server's listener: states `.server`, accepts clients and servers.
    private func serverListener(configure: (inout LinkConfiguration) -> Void = { _ in }) async throws -> TestListener {
        try await TestListener.bind { configuration in
            configuration.role = .server
            configuration.serverSecret = Self.serverSecret
            configuration.acceptedRoles = [.client, .server]
            configure(&configuration)
        }
    }

    private func expectAuthenticationFailure(_ error: (any Error)?, mentioning words: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .authenticationFailed(let why)? = error as? TransportError else {
            Issue.record("expected authenticationFailed, got \(String(describing: error))", sourceLocation: sourceLocation)
            return
        }
        #expect(why.contains(words), "\(why)", sourceLocation: sourceLocation)
    }

    @Test func aDialerWithoutTheServerSecretIsRefusedAndGetsNoAuthentication() async throws {
        let server = try await serverListener { $0.handshakeTimeout = .seconds(60) }
        defer { server.listener.close() }
        var impostor = LinkConfiguration(identity: .ephemeral(), secret: "s3cret")
        impostor.serverSecret = "a guess"
        let channel = try await server.rawFramedConnection()
        let afterAuthentication = try await withDeadline(.seconds(20)) { [impostor] in
            let handshake = try Handshake(dialerDeclaring: .server, configuration: impostor)
            return try await channel.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                try await outbound.write(Frame(type: Handshake.helloType, bytes: handshake.hello.encoded()))
                let helloFrame = try #require(try await frames.next())
                #expect(helloFrame.type == Handshake.helloType)
                let listenerHello = try Handshake.Hello.decode(helloFrame.bytes)
                #expect(listenerHello.role == .server)
                try await outbound.write(Frame(type: Handshake.authType, bytes: try handshake.authentication(peer: listenerHello)))
                // The listener must close without a word: its authentication would let the
                // impostor check guesses of the server secret offline.
                var received: [Frame] = []
                do {
                    while let frame = try await frames.next() { received.append(frame) }
                } catch {}  // a reset is a close too
                return received
            }
        }
        #expect(afterAuthentication.isEmpty)
        var failures = server.failures.makeAsyncIterator()
        expectAuthenticationFailure(await failures.next(), mentioning: "server secret")
    }

    @Test func aDialerWithAWrongServerSecretFailsWithAClearReason() async throws {
        let server = try await serverListener()
        defer { server.listener.close() }
        do {
            _ = try await server.dial(as: .server) { $0.serverSecret = "a guess" }
            Issue.record("a wrong server secret must fail")
        } catch {
            expectAuthenticationFailure(error, mentioning: "server secret")
        }
        var failures = server.failures.makeAsyncIterator()
        expectAuthenticationFailure(await failures.next(), mentioning: "server secret")
    }

    @Test func rolesAreReportedOnBothSides() async throws {
        let server = try await serverListener()
        defer { server.listener.close() }
        var accepted = server.listener.links.makeAsyncIterator()

        let asServer = try await server.dial(as: .server) { $0.serverSecret = Self.serverSecret }
        let serverSide = try #require(await accepted.next())
        #expect(asServer.peer.role == .server)  // the listener's stated role
        #expect(serverSide.peer.role == .server)  // the dialer's proven role

        let asClient = try await server.dial(as: .client)
        let clientSide = try #require(await accepted.next())
        #expect(asClient.peer.role == .server)
        #expect(clientSide.peer.role == .client)

        // A client's own listener states `.client`.
        let clientListener = try await TestListener.bind()
        defer { clientListener.listener.close() }
        var direct = clientListener.listener.links.makeAsyncIterator()
        let toClient = try await clientListener.dial()
        let fromClient = try #require(await direct.next())
        #expect(toClient.peer.role == .client)
        #expect(fromClient.peer.role == .client)

        // Frames flow on a server link as on any other.
        try asServer.send(type: 40, [1, 2, 3])
        var frames = serverSide.inbound.makeAsyncIterator()
        #expect(try await frames.next()?.bytes == [1, 2, 3])
        for link in [asServer, serverSide, asClient, clientSide, toClient, fromClient] { link.close() }
    }

    @Test func theAdminRoleIsRefusedWhenTheListenerHasNoAdminSecret() async throws {
        let server = try await serverListener { $0.acceptedRoles = [.client, .server, .admin] }
        defer { server.listener.close() }
        do {
            _ = try await server.dial(as: .admin) { $0.adminSecret = "operator" }
            Issue.record("the admin role must be refused")
        } catch {
            expectAuthenticationFailure(error, mentioning: "admin")
        }
        var failures = server.failures.makeAsyncIterator()
        expectAuthenticationFailure(await failures.next(), mentioning: "holds no admin secret")

        // With the admin secret on both sides, the operator gets in as `.admin`.
        let operatorListener = try await serverListener {
            $0.acceptedRoles = [.admin]
            $0.adminSecret = "operator"
        }
        defer { operatorListener.listener.close() }
        var accepted = operatorListener.listener.links.makeAsyncIterator()
        let admin = try await operatorListener.dial(as: .admin) { $0.adminSecret = "operator" }
        let adminSide = try #require(await accepted.next())
        #expect(adminSide.peer.role == .admin)
        admin.close()
        adminSide.close()
    }

    @Test func aDialerWithoutTheRolesSecretFailsBeforeConnecting() async throws {
        do {
            _ = try await LinkDialer.connect(
                host: "127.0.0.1", port: 1, role: .server, configuration: LinkConfiguration(identity: .ephemeral(), secret: "s3cret")
            )
            Issue.record("dialling as a server without the server secret must fail")
        } catch {
            expectAuthenticationFailure(error, mentioning: "holds no server secret")
        }
    }

    @Test func aListenerThatAcceptsOnlyClientsRefusesServers() async throws {
        let clientOnly = try await TestListener.bind { $0.serverSecret = Self.serverSecret }  // acceptedRoles: [.client]
        defer { clientOnly.listener.close() }
        do {
            _ = try await clientOnly.dial(as: .server) { $0.serverSecret = Self.serverSecret }
            Issue.record("a client-only listener must refuse a server")
        } catch {
            expectAuthenticationFailure(error, mentioning: "before its hello")
        }
        var failures = clientOnly.failures.makeAsyncIterator()
        expectAuthenticationFailure(await failures.next(), mentioning: "does not accept")
        // Clients still get in.
        let client = try await clientOnly.dial()
        #expect(client.peer.role == .client)
        client.close()
    }
}
