import ClientProtocol
import Delivery
import MessageModel
import P2PCore
import Transport
import WireCodec

/// Keeps the client's link to one server address open: dials, checks that the node is a server
/// of the trusted cluster, says hello, hands what the server pushes to the engine, and redials
/// with jittered backoff when the link ends.
struct ServerDialer: Sendable {
    let configuration: ClientConfiguration
    let linkConfiguration: LinkConfiguration
    let pin: ClusterKeyPin
    let direct: DirectPaths?
    let replies: PendingReplies<ServerPush>

    /// How long a dial to a server may wait for the server's side of the handshake. Longer than
    /// the listener's own timeout: after a server restart thousands of clients dial at once and
    /// wait in its listen queue, and one that gave up would only queue again at the back.
    static let handshakeTimeout: Duration = .seconds(15)

    /// Keeps a link to the server at `address` open, redialling with backoff, until cancelled.
    func maintain(_ address: String, for engine: ClientEngine) async {
        guard let target = HostPort(address) else {
            await engine.serverDown(address, nil, reason: "malformed address (expected host:port)")
            return
        }
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2))
        // Full jitter: clients that lost a server together (its restart) do not redial in waves.
        var random = SystemRandomNumberGenerator()
        var linkConfiguration = self.linkConfiguration
        linkConfiguration.handshakeTimeout = Self.handshakeTimeout
        while !Task.isCancelled {
            var link: Link?
            do {
                let dialled = try await LinkDialer.connect(host: target.host, port: target.port, configuration: linkConfiguration)
                link = dialled
                try Self.checkServerIdentity(dialled.peer)
                try dialled.send(type: ClientProtocol.requestFrame, ClientRequest.hello(ClientHello(
                    lanAddresses: Array((direct?.tcpCandidates ?? []).prefix(ClientRecord.Limits.maximumLANAddresses)),
                    listenAddress: configuration.listenHost,
                    listenPort: direct.map { UInt16(clamping: $0.tcpPort) } ?? configuration.listenPort, subscribe: false
                )).encoded())
                try await serve(dialled, address: address, engine: engine) { backoff.reset() }
                await engine.serverDown(address, dialled, reason: "the server closed the link")
            } catch {
                await engine.serverDown(address, link, reason: "\(error)")
            }
            link?.close()
            do { try await Task.sleep(for: backoff.next(jitteredBy: &random)) } catch { return }
        }
    }

    /// Reads what the server at the other end of `link` pushes until the link ends.
    private func serve(_ link: Link, address: String, engine: ClientEngine, onWelcome: () -> Void) async throws {
        var verified = false
        var announced = false
        for try await frame in link.inbound {
            if frame.type == ClientProtocol.featuresFrame, verified, !announced {
                announced = true
                // The server takes batches from here on; this client says what it takes in turn.
                await engine.serverAnnounced(try LinkFeatures(decoding: frame.bytes), on: link)
                try link.send(type: ClientProtocol.featuresFrame, LinkFeatures.supported.encoded())
                continue
            }
            guard frame.type == ClientProtocol.pushFrame else { continue }
            let push = try ServerPush(decoding: frame.bytes)
            switch push {
            case .welcome, .refused: break
            default:
                // Nothing counts before the server proved it is one.
                guard verified else { throw ClientError.untrustedServer(link.peer.id, "it spoke before proving the cluster key") }
            }
            switch push {
            case .queryResult(let request, _), .connectResult(let request, _), .claimResult(let request, _):
                replies.resolve(request, with: push, from: link.peer.id)
            case .sendResult, .deliver, .delivered, .expired:
                await engine.pushed([push], from: link.peer.id)
            case .batch(let pushes):
                // One hop into the engine for the lot (claim answers go to their waiters).
                var forEngine: [ServerPush] = []
                forEngine.reserveCapacity(pushes.count)
                for push in pushes {
                    if case .claimResult(let request, _) = push {
                        replies.resolve(request, with: push, from: link.peer.id)
                    } else {
                        forEngine.append(push)
                    }
                }
                await engine.pushed(forEngine, from: link.peer.id)
            case .introduction(let introduction):
                await direct?.introduced(introduction)
            case .welcome(let server, let leader, let clusterKey, let proof):
                try checkWelcome(link, server: server, clusterKey: clusterKey, proof: proof)
                verified = true
                onWelcome()
                await engine.serverUp(address, link, server: server, leader: leader)
            case .refused(let reason):
                throw ClientError.refused(reason)
            }
        }
    }

    /// Throws unless the welcome proves a cluster key, and the one this client trusts.
    private func checkWelcome(_ link: Link, server: NodeID, clusterKey: [UInt8], proof: [UInt8]) throws {
        guard server == link.peer.id,
              ClusterKey.isValid(proof: proof, publicKey: clusterKey, channelBinding: link.peer.channelBinding, server: server)
        else { throw ClientError.untrustedServer(link.peer.id, "it could not prove a cluster key") }
        guard pin.admits(clusterKey) else {
            throw ClientError.untrustedServer(
                link.peer.id, "it belongs to cluster \(ClusterKey.fingerprint(of: clusterKey)), not the trusted \(pin.fingerprint ?? "?")"
            )
        }
    }

    /// Throws unless `peer` claims the server role with an id derived from its key. (What makes
    /// it a server of the trusted cluster is its proof of the cluster key, in its welcome.)
    private static func checkServerIdentity(_ peer: PeerInfo) throws {
        guard peer.role == .server else { throw ClientError.untrustedServer(peer.id, "the node does not claim to be a server") }
        guard peer.id.isDerived(from: peer.publicKey) else {
            throw ClientError.untrustedServer(peer.id, "its id is not derived from its key")
        }
    }
}
