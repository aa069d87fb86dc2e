import ClientProtocol
import Dispatch
import Foundation
import LMDB
import Logging
import Mailbox
import P2PClient
import P2PCore
import Transport
import WireCodec

extension ClientEngineDriver {
    /// A server as far as a client can tell: it states the server role on its links, welcomes a
    /// client's hello with a proof of its cluster key, and otherwise only pushes.
    final class FakeServer: Sendable {
        static let clusterSecret = "fuzz-cluster-secret"
        static let serverSecret = "fuzz-server-secret"
        let identity: NodeIdentity
        let clusterKey = ClusterKey(serverSecret: FakeServer.serverSecret)
        let listener: LinkListener
        /// Every link welcomed, the current one last.
        let welcomes = Locked<[Link]>([])
        private let acceptor = Locked<Task<Void, Never>?>(nil)

        private init(identity: NodeIdentity, listener: LinkListener) {
            self.identity = identity
            self.listener = listener
        }

        static func start() async throws -> FakeServer {
            let identity = NodeIdentity.generate()
            var configuration = LinkConfiguration(identity: identity, secret: clusterSecret)
            configuration.role = .server
            configuration.serverSecret = serverSecret
            let listener = try await LinkListener.bind(host: "127.0.0.1", port: 0, configuration: configuration)
            let server = FakeServer(identity: identity, listener: listener)
            let task = Task {
                await withDiscardingTaskGroup { group in
                    for await link in listener.links {
                        group.addTask { await server.serve(link) }
                    }
                }
            }
            server.acceptor.withLock { $0 = task }
            return server
        }

        func current() -> Link? { welcomes.withLock { $0.last } }

        /// Answers the hello with a welcome, then reads (and drops) what the client sends.
        private func serve(_ link: Link) async {
            do {
                for try await frame in link.inbound where frame.type == ClientProtocol.requestFrame {
                    guard case .hello? = try? ClientRequest(decoding: frame.bytes) else { continue }
                    let proof = clusterKey.proof(channelBinding: link.peer.channelBinding, server: identity.id)
                    try link.send(type: ClientProtocol.pushFrame, ServerPush.welcome(server: identity.id, leader: identity.id, clusterKey: clusterKey.publicKeyBytes, proof: proof).encoded())
                    welcomes.withLock { $0.append(link) }
                }
            } catch {}
            link.close()
        }

        func stop() async {
            await listener.shutdown()
            for link in welcomes.withLock({ $0 }) { link.close() }
            let task = acceptor.withLock { $0 }
            task?.cancel()
        }
    }
}
