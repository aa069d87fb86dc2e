import ClientProtocol
import P2PCore
import Transport
import WireCodec

/// An authenticated link as a hostile client holds it: a real handshake (with the cluster secret
/// every client has, or a role it cannot prove), then whatever frames it likes.
/// Use it from one task.
final class HostileClient {
    let link: Link
    /// The id this client claimed in its handshake.
    let id: NodeID
    private var frames: LinkInbound.AsyncIterator

    init(_ link: Link, id: NodeID) {
        self.link = link
        self.id = id
        frames = link.inbound.makeAsyncIterator()
    }

    /// The server at the other end.
    var server: NodeID { link.peer.id }

    /// Dials `target` as `role`; the configuration holds the cluster secret and whatever server
    /// or admin secret the attacker claims to know.
    static func dial(
        _ target: HostPort, role: LinkRole = .client, identity: NodeIdentity = .ephemeral(), secret: String,
        serverSecret: String? = nil, adminSecret: String? = nil
    ) async throws -> HostileClient {
        var configuration = LinkConfiguration(identity: identity, secret: secret)
        configuration.serverSecret = serverSecret
        configuration.adminSecret = adminSecret
        configuration.handshakeTimeout = .seconds(5)
        configuration.connectTimeout = .seconds(5)
        let link = try await LinkDialer.connect(host: target.host, port: target.port, role: role, configuration: configuration)
        return HostileClient(link, id: identity.id)
    }

    func send(_ request: ClientRequest) throws {
        try link.send(type: ClientProtocol.requestFrame, request.encoded())
    }

    func send(type: UInt8, _ bytes: [UInt8]) throws {
        try link.send(type: type, bytes)
    }

    /// What the next read gave.
    enum Next {
        case frame(Frame)
        /// The server closed the link (or it broke: `error`).
        case closed(error: (any Error)?)
        /// Nothing came in time; the link is closed now.
        case timedOut
    }

    /// The next frame, or how the link ended; after `timeout` the link is closed (and `.timedOut`).
    func next(within timeout: Duration) async -> Next {
        let link = self.link
        let watchdog = Watchdog(after: timeout) { link.close() }
        defer { watchdog.cancel() }
        do {
            if let frame = try await frames.next() { return watchdog.fired ? .timedOut : .frame(frame) }
            return watchdog.fired ? .timedOut : .closed(error: nil)
        } catch {
            return watchdog.fired ? .timedOut : .closed(error: error)
        }
    }

    /// The next server push (frames of other types are skipped).
    func nextPush(within timeout: Duration) async -> (push: ServerPush?, end: Next?) {
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { link.close(); return (nil, .timedOut) }
            switch await next(within: left) {
            case .frame(let frame):
                guard frame.type == ClientProtocol.pushFrame, let push = try? ServerPush(decoding: frame.bytes) else { continue }
                return (push, nil)
            case let end:
                return (nil, end)
            }
        }
    }

    /// Sends a client hello and returns the server's answer (`welcome` or `refused`), or how the link ended.
    func hello(_ hello: ClientHello = ClientHello(subscribe: false), within timeout: Duration = .seconds(30)) async -> (push: ServerPush?, end: Next?) {
        do {
            try send(.hello(hello))
        } catch {
            return (nil, .closed(error: error))
        }
        return await nextPush(within: timeout)
    }

    /// Reads until the server closes the link or `timeout` passes (then closes it): the frames
    /// that came first, and whether the server was the one that closed.
    func awaitClose(within timeout: Duration) async -> (frames: [Frame], closedByServer: Bool, error: (any Error)?) {
        var received: [Frame] = []
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                link.close()
                return (received, false, nil)
            }
            switch await next(within: left) {
            case .frame(let frame): received.append(frame)
            case .closed(let error): return (received, true, error)
            case .timedOut: return (received, false, nil)
            }
        }
    }

    func close() { link.close() }
}

extension HostileClient.Next: CustomStringConvertible {
    var description: String {
        switch self {
        case .frame(let frame): "a frame of type \(frame.type)"
        case .closed(let error): error.map { "closed (\($0))" } ?? "closed"
        case .timedOut: "no answer in time"
        }
    }
}
