import ClusterHarness
import Foundation
import Logging
import P2PClient
import P2PCore
import P2PServer
import ServiceLifecycle
import Testing
import TestSupport

/// A server as a messaging endpoint: clients send to its id, it sends to theirs.
extension ServerProcessSuites {
@Suite struct ServerEndpointTests {
    @Test func aServerReceivesFromAClientAndSendsToIt() async throws {
        let scratch = TemporaryDirectory("endpoint")
        let root = scratch.path
        var configuration = ServerConfiguration()
        configuration.listenPort = try await ServerProcess.freePorts(1)[0]
        configuration.dataDirectory = root + "/server"
        configuration.secret = Secret.generate()
        configuration.serverSecret = Secret.generate()
        let server = try await P2PServer.start(configuration: configuration)
        try await server.waitUntilReady()

        var clientConfiguration = ClientConfiguration(servers: ["127.0.0.1:\(configuration.listenPort)"])
        clientConfiguration.stateDirectory = root + "/client"
        clientConfiguration.secret = configuration.secret
        let client = try await P2PClient.start(clientConfiguration)

        // Client → server: `send` returns once the server's application took the message.
        let serverGot = Task { () -> [ReceivedMessage] in
            var received: [ReceivedMessage] = []
            for try await message in server.receive() {
                received.append(message)
                if received.count == 3 { break }
            }
            return received
        }
        for i in 1...3 { try await client.send(to: server.id, data: Array("to server \(i)".utf8), timeout: .seconds(30)) }
        let fromClient = try await serverGot.value
        #expect(fromClient.map(\.data) == (1...3).map { Array("to server \($0)".utf8) })
        #expect(fromClient.allSatisfy { $0.from == client.id })

        // Server → client.
        let clientGot = Task { try await RelayDeliveryTests.collect(client, count: 2) }
        for i in 1...2 { try await server.send(to: client.id, data: Array("to client \(i)".utf8), timeout: .seconds(30)) }
        let fromServer = try await clientGot.value
        #expect(fromServer.map(\.data) == (1...2).map { Array("to client \($0)".utf8) })
        #expect(fromServer.allSatisfy { $0.from == server.id })

        // The server's endpoint is not listed among the clients.
        #expect(try server.clients() == [client.id])
        // An unknown id is a typed error, from the server's side too.
        let stranger = NodeID(UUID())
        await #expect(throws: SendError.unknownRecipient(stranger)) {
            try await server.send(to: stranger, data: [1], timeout: .seconds(10))
        }
        await client.shutdown()
        await server.shutdown()
        // A second server on the same port and directory starts: the first released both.
        let again = try await P2PServer.start(configuration: configuration)
        try await again.waitUntilReady()
        #expect(again.id == server.id)
        await again.shutdown()
    }
}
}
