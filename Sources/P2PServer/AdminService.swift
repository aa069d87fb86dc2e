import AdminProtocol
import Crypto
import Logging
import Mailbox
import P2PCore
import ServiceLifecycle
import Synchronization
import Raft
import Transport
import WireCodec

/// The admin API behind `mailbox-admin`, over the local socket and remote admin links: any
/// server answers; leader-only changes are passed to the leader over the server links, and
/// `status` asks every member for its own.
///
/// It owns the admin socket.
final class AdminService: Service, Sendable {
    let context: ServerContext
    var id: NodeID { context.id }
    var logger: Logger { context.logger }
    let raft: RaftDriver
    let mesh: PeerMesh
    let gateway: ClientGateway
    /// Admin links accepted by the listener, with their first frame, to serve.
    let accepted = AsyncStream<(Link, Frame)>.makeStream()
    private let socket = Mutex<AdminSocket?>(nil)

    init(context: ServerContext, raft: RaftDriver, mesh: PeerMesh, gateway: ClientGateway) {
        self.context = context
        self.raft = raft
        self.mesh = mesh
        self.gateway = gateway
    }

    /// Binds the local admin socket (a server without one still runs: it is only logged).
    func bindSocket() async {
        let path = context.adminSocketPath
        do {
            let bound = try await AdminSocket.bind(path: path) { [weak self] request in
                guard let self else { return .failed(AdminFailure(.unavailable, "the server is stopping")) }
                self.logger.info("admin request (local socket)", metadata: ["p2p.admin": "\(request)"])
                return await self.answerAdmin(request, forwarded: false)
            }
            socket.withLock { $0 = bound }
        } catch {
            logger.warning("no local admin socket at \(path): \(error)")
        }
    }

    /// Serves remote admin links until cancelled or shut down, then closes the socket.
    func run() async {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { served in
                for await (link, first) in self.accepted.stream {
                    served.addTask { await self.serve(link, first: first) }
                }
            }
        }
        accepted.continuation.finish()
        socket.withLock { $0 }?.close()
    }

    /// Serves an admin link (its peer proved the admin secret in the handshake): one
    /// ``AdminResponse`` per ``AdminRequest``, in order.
    func serve(_ link: Link, first: Frame) async {
        defer { link.close() }
        var frames = link.inbound.makeAsyncIterator()
        var frame: Frame? = first
        do {
            while let current = frame {
                guard current.type == AdminProtocol.requestFrame else { return }
                let response: AdminResponse
                if let request = try? AdminProtocol.decode(AdminRequest.self, from: current.bytes) {
                    logger.info("admin request", metadata: ["p2p.admin": "\(request)", "p2p.peer": "\(link.peer.remoteAddress ?? "?")"])
                    response = await answerAdmin(request, forwarded: false)
                } else {
                    response = .failed(AdminFailure(.invalid, "malformed admin request"))
                }
                try link.send(type: AdminProtocol.responseFrame, AdminProtocol.encode(response))
                frame = try await frames.next()
            }
        } catch {
            logger.debug("admin link closed: \(error)")
        }
    }

    /// Asks server `peer` over the server link.
    func askServer(_ peer: NodeID, _ request: AdminRequest, timeout: Duration) async throws -> AdminResponse {
        let reply: PeerReply
        do {
            reply = try await mesh.ask(peer, .admin(request), timeout: timeout)
        } catch {
            throw AdminFailure(.unavailable, "no answer from server \(peer): \(error)")
        }
        guard case .admin(let response) = reply else { throw AdminFailure(.unavailable, "server \(peer) answered \(reply)") }
        return response
    }

    func answerAdmin(_ request: AdminRequest, forwarded: Bool) async -> AdminResponse {
        guard let replica = raft.replica else { return .failed(AdminFailure(.unavailable, "this server has not formed or joined a cluster yet")) }
        do {
            switch request {
            case .serverStatus:
                return .serverStatus(await ownStatus(replica))
            case .status:
                return .status(await clusterStatus(replica))
            case .clients:
                // A tool from before pagination: the first page, in the shape it understands.
                return .clients(try await clientSummaries(replica.mailboxes, after: nil, limit: AdminRequest.maximumPageSize).summaries)
            case .clientPage(let after, let limit):
                let page = try await clientSummaries(replica.mailboxes, after: after, limit: limit)
                return .clientPage(page.summaries, next: page.next)
            case .mailbox(let client, let peek, let after):
                return .mailbox(try mailboxReport(replica.mailboxes, client, peek: peek, after: after))
            case .purge(let client):
                _ = try requireClient(replica.mailboxes, client)
                guard case .purged(let count) = try await raft.commit(.purge(recipient: client), budget: .seconds(10)) else {
                    return .failed(AdminFailure(.unavailable, "the purge was not applied"))
                }
                return .done(detail: "purged \(count) message\(count == 1 ? "" : "s") from \(client)'s mailbox")
            case .delete(let client, let message):
                _ = try requireClient(replica.mailboxes, client)
                guard try await raft.commit(.delete(recipient: client, id: message), budget: .seconds(10)) == .done else {
                    throw AdminFailure(.notFound, "no message \(message) in \(client)'s mailbox")
                }
                return .done(detail: "deleted \(message) from \(client)'s mailbox")
            case .addServer(let address):
                return try await addServer(address, replica)
            case .removeServer, .transferLeadership:
                return try await atLeader(request, replica, forwarded: forwarded)
            case .digest:
                let digest = try replica.mailboxes.digest()
                return .digest(appliedIndex: digest.index, sha256: digest.digest)
            case .safeToStop(let target):
                return .safeToStop(try await safeToStop(target, replica))
            case .path(let a, let b):
                return .path(try await pathDiagnosis(a, b, replica))
            case .pathFacts(let clients):
                return .pathFacts(localPathFacts(clients: clients))
            case .snapshot:
                let index = try await replica.compact()
                return .done(detail: "snapshot taken on \(id): the Raft log now starts after index \(index)")
            }
        } catch let failure as AdminFailure {
            return .failed(failure)
        } catch {
            return .failed(AdminFailure(.unavailable, "\(error)"))
        }
    }
}
