import ClientProtocol
import Logging
import P2PCore
import ServiceLifecycle
import Transport
import WireCodec

/// The front door: takes the links the listener accepted, waits (briefly, and only for so many
/// at once) for each link's first frame, and hands the link to the component its proven role
/// names — a server link to the ``PeerMesh``, a client link to the ``ClientGateway``, an admin
/// link to the ``AdminService``. A link whose first frame does not fit its role is closed.
///
/// It owns the listener and the count of links waiting for their first frame.
final class LinkAcceptor: Service, Sendable {
    let context: ServerContext
    let listener: LinkListener
    let mesh: PeerMesh
    let gateway: ClientGateway
    let admin: AdminService
    /// Accepted links still waiting for their first frame, in total and per remote host.
    let awaitingFirstFrame = AdmissionCount(total: ServerContext.pendingHandshakeCap, perHost: 16)

    /// How long an accepted link may stay silent before its first frame.
    static let firstFrameTimeout: Duration = .seconds(5)

    init(context: ServerContext, listener: LinkListener, mesh: PeerMesh, gateway: ClientGateway, admin: AdminService) {
        self.context = context
        self.listener = listener
        self.mesh = mesh
        self.gateway = gateway
        self.admin = admin
    }

    /// Accepts links until cancelled or shut down, then closes the listener.
    func run() async {
        await cancelWhenGracefulShutdown {
            // Thousands at once in an attach storm: a TaskSet, not a task group (see TaskSet).
            await TaskSet.forEach(self.listener.links) { link in await self.accept(link) }
        }
        listener.close()
    }

    private static func handedOver<T>(_ result: AsyncStream<T>.Continuation.YieldResult) -> Bool {
        if case .enqueued = result { return true }
        return false
    }

    private func accept(_ link: Link) async {
        let logger = context.logger
        // A peer that proved a secret but says nothing holds a link (and memory) for nothing:
        // few may wait for their first frame at once, and none for long.
        let host = link.peer.remoteAddress.flatMap { HostPort($0)?.host } ?? "?"
        guard awaitingFirstFrame.admit(host) else {
            logger.notice("closing a link from \(host): too many links wait for their first frame")
            context.metrics.rejected(.admission)
            return link.close()
        }
        let silence = Task {
            try await Task.sleep(for: Self.firstFrameTimeout)
            link.close()
        }
        var frames = link.inbound.makeAsyncIterator()
        let firstFrame: Result<Frame?, any Error>
        do { firstFrame = .success(try await frames.next()) } catch { firstFrame = .failure(error) }
        silence.cancel()
        awaitingFirstFrame.release(host)
        do {
            guard let first = try firstFrame.get() else { return link.close() }
            let handedOver: Bool
            switch link.peer.role {
            case .server:
                handedOver = Self.handedOver(mesh.accepted.continuation.yield((link, first)))
            case .admin:
                handedOver = Self.handedOver(admin.accepted.continuation.yield((link, first)))
            case .client:
                guard first.type == ClientProtocol.requestFrame, case .hello(let hello) = try ClientRequest(decoding: first.bytes) else {
                    throw TransportError.protocolViolation("a client link must start with a client hello")
                }
                handedOver = Self.handedOver(gateway.accepted.continuation.yield((link, hello)))
            }
            // The component stopped: nobody will serve the link.
            if !handedOver { link.close() }
        } catch {
            context.metrics.rejected(.firstFrame)
            logger.notice("closing a link from \(link.peer.id) (\(link.peer.role)): \(error)", metadata: ["p2p.peer": "\(link.peer.remoteAddress ?? "?")"])
            link.close()
        }
    }
}
