import ClientProtocol
import Delivery
import MessageModel
import P2PCore
import Transport

/// The engine's requests to servers: those one step produced go out together when the step is
/// done (a server that takes batches gets a burst of sends and acknowledgements as one frame),
/// and the relay offers among them wait for their answer here, by request number, without a
/// task each.
///
/// An offer no answer came for is forgotten after its timeout: the core's own attempt deadline
/// retries it (``ClientCore/Configuration/attemptTimeout``).
struct ServerRequests {
    private struct Queued {
        var server: NodeID
        var bytes: [UInt8]
        var batchable: Bool
        var relay: (key: OutboxKey, request: UInt64)?
    }

    /// Where requests to a server go: its link, and whether it announced batches.
    typealias Outlet = (link: Link, batches: Bool)

    private var queued: [Queued] = []
    private var relays: [UInt64: (key: OutboxKey, server: NodeID)] = [:]
    /// Relay offers by deadline (the timeout is the same for all, so in order of offering).
    private var deadlines: [(at: UInt64, request: UInt64)] = []
    private var deadlineHead = 0

    var isEmpty: Bool { queued.isEmpty }
    /// Relay offers waiting for an answer (for tests).
    var waitingRelays: Int { relays.count }

    /// Queues `request` for `server`.
    mutating func enqueue(_ request: ClientRequest, to server: NodeID) {
        queued.append(Queued(server: server, bytes: request.encoded(), batchable: request.isBatchable, relay: nil))
    }

    /// Queues the relay offer `request` of `message` (its outbox entry `key`) for `server`; its
    /// answer is taken until `deadline`.
    mutating func enqueueRelay(_ message: MailMessage, request: UInt64, key: OutboxKey, to server: NodeID, now: UInt64, deadline: UInt64) {
        forgetExpired(now: now)
        relays[request] = (key, server)
        deadlines.append((deadline, request))
        queued.append(Queued(server: server, bytes: ClientRequest.send(request: request, message: message).encoded(), batchable: true, relay: (key, request)))
    }

    /// The outbox entry a server's answer to `request` is about, if it was offered to that server
    /// and the answer is still awaited.
    mutating func answered(_ request: UInt64, from server: NodeID) -> OutboxKey? {
        guard let relay = relays[request], relay.server == server else { return nil }
        relays[request] = nil
        return relay.key
    }

    /// Sends everything queued, in order per server; returns the relay offers that could not go
    /// out (no link, or it closed).
    mutating func flush(_ outlet: (NodeID) -> Outlet?) -> [(key: OutboxKey, server: NodeID)] {
        guard !queued.isEmpty else { return [] }
        let all = queued
        queued.removeAll(keepingCapacity: true)
        var servers: [NodeID] = []
        var byServer: [NodeID: [Queued]] = [:]
        for request in all {
            if byServer[request.server] == nil { servers.append(request.server) }
            byServer[request.server, default: []].append(request)
        }
        var failed: [(key: OutboxKey, server: NodeID)] = []
        for server in servers {
            let requests = byServer[server] ?? []
            guard let outlet = outlet(server), Self.send(requests, on: outlet) else {
                for request in requests {
                    guard let relay = request.relay else { continue }
                    relays[relay.request] = nil
                    failed.append((relay.key, server))
                }
                continue
            }
        }
        return failed
    }

    /// Forgets every offer (the client stops).
    mutating func removeAll() {
        queued.removeAll()
        relays.removeAll()
        deadlines.removeAll()
        deadlineHead = 0
    }

    /// Sends `requests` on `outlet`: runs of batchable ones as batches when the server takes them.
    private static func send(_ requests: [Queued], on outlet: Outlet) -> Bool {
        var run: [[UInt8]] = []
        func sendRun() -> Bool {
            defer { run.removeAll() }
            let frames = outlet.batches && run.count > 1
                ? FrameBatch.pack(run).map { $0.count == 1 ? $0[0] : ClientRequest.batch(encoded: $0) }
                : run
            for bytes in frames {
                guard (try? outlet.link.send(type: ClientProtocol.requestFrame, bytes)) != nil else { return false }
            }
            return true
        }
        for request in requests {
            if request.batchable {
                run.append(request.bytes)
                continue
            }
            guard sendRun(), (try? outlet.link.send(type: ClientProtocol.requestFrame, request.bytes)) != nil else { return false }
        }
        return sendRun()
    }

    private mutating func forgetExpired(now: UInt64) {
        while deadlineHead < deadlines.count, deadlines[deadlineHead].at <= now {
            relays[deadlines[deadlineHead].request] = nil
            deadlineHead += 1
        }
        if deadlineHead > 1024, deadlineHead * 2 > deadlines.count {
            deadlines.removeFirst(deadlineHead)
            deadlineHead = 0
        }
    }
}
