import ClientProtocol
import MessageModel
import P2PCore
import Synchronization
import Transport
import WireCodec

extension SimulatedClient {
    /// Why a link to a server was given up.
    struct Untrusted: Error, CustomStringConvertible {
        let description: String
    }

    /// Keeps a link to server number `server` open until the client stops or its plan releases
    /// the server (the task is cancelled and the link closed), as the real client's
    /// `ServerDialer` does: dial (from this client's own address), check that the node claims the
    /// server role with an id derived from its key, say hello, check the welcome's cluster-key
    /// proof, then serve pushes; redial after up to 100 ms, doubling to 2 s (full jitter, from the client's
    /// generator), reset by a welcome.
    func maintain(_ server: Int) async {
        guard let target = HostPort(configuration.servers[server]) else { return }
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2))
        while isRunning, !Task.isCancelled {
            var link: Link?
            var welcomed = false
            do {
                let dialled = try await LinkDialer.connect(
                    host: target.host, port: target.port, configuration: linkConfiguration, localHost: host
                )
                link = dialled
                guard adopt(dialled, server) else {
                    dialled.close()
                    break
                }
                guard dialled.peer.role == .server, dialled.peer.id.isDerived(from: dialled.peer.publicKey) else {
                    throw Untrusted(description: "\(dialled.peer.id) is not a server")
                }
                try dialled.send(type: ClientProtocol.requestFrame, ClientRequest.hello(ClientHello(subscribe: false)).encoded())
                try await serve(dialled, server) {
                    welcomed = true
                    backoff.reset()
                }
            } catch {}
            if welcomed {
                counters.lostLinks.wrappingAdd(1, ordering: .relaxed)
            } else {
                counters.failedAttempts.wrappingAdd(1, ordering: .relaxed)
            }
            if let link { release(link, server) }
            link?.close()
            planDown(server)
            do { try await Task.sleep(for: state.withLock { backoff.next(jitteredBy: &$0.random) }) } catch { break }
        }
    }

    /// Notes `link` as the current one to `server`; `false` (closing nothing) once stopped or
    /// released by the plan.
    private func adopt(_ link: Link, _ server: Int) -> Bool {
        state.withLock { state in
            guard state.running, !Task.isCancelled else { return false }
            state.links[server] = link
            return true
        }
    }

    /// Forgets `link` as the link to `server`; moves the subscription if it was there.
    private func release(_ link: Link, _ server: Int) {
        let (wasWelcomed, resubscribe) = state.withLock { state -> (Bool, (Int, Link)?) in
            guard state.links[server] === link else { return (false, nil) }
            state.links[server] = nil
            let was = state.welcomed[server]
            state.welcomed[server] = false
            guard state.subscribed == server else { return (was, nil) }
            state.subscribed = nil
            let candidates = state.welcomed.indices.filter { state.welcomed[$0] }
            guard let next = candidates.randomElement(using: &state.random), let nextLink = state.links[next] else { return (was, nil) }
            state.subscribed = next
            return (was, (next, nextLink))
        }
        if wasWelcomed { board.detached(server) }
        if let (_, nextLink) = resubscribe { try? nextLink.send(type: ClientProtocol.requestFrame, ClientRequest.subscribe(true).encoded()) }
    }

    /// Reads what the server pushes until the link ends.
    private func serve(_ link: Link, _ server: Int, onWelcome: () -> Void) async throws {
        var verified = false
        for try await frame in link.inbound {
            guard frame.type == ClientProtocol.pushFrame else { continue }
            let push = try ServerPush(decoding: frame.bytes)
            switch push {
            case .welcome(let node, _, let clusterKey, let proof):
                guard node == link.peer.id, clusterKey == configuration.clusterKey,
                      ClusterKey.isValid(proof: proof, publicKey: clusterKey, channelBinding: link.peer.channelBinding, server: node)
                else { throw Untrusted(description: "\(node) did not prove the trusted cluster key") }
                verified = true
                onWelcome()
                welcome(link, server)
            case .refused(let reason):
                throw Untrusted(description: "refused: \(reason)")
            default:
                guard verified else { throw Untrusted(description: "\(link.peer.id) spoke before proving the cluster key") }
                handle(push, on: link)
            }
        }
    }

    /// The server welcomed the client: it counts as attached, and the first server becomes the
    /// subscribed one.
    private func welcome(_ link: Link, _ server: Int) {
        let subscribe = state.withLock { state -> Bool in
            guard state.links[server] === link else { return false }
            state.welcomed[server] = true
            guard state.subscribed == nil else { return false }
            state.subscribed = server
            return true
        }
        board.attached(server)
        counters.welcomes.wrappingAdd(1, ordering: .relaxed)
        planConnected(server)
        if subscribe { try? link.send(type: ClientProtocol.requestFrame, ClientRequest.subscribe(true).encoded()) }
    }

    private func handle(_ push: ServerPush, on link: Link) {
        switch push {
        case .sendResult(let request, let result):
            replies.resolve(request, with: push, from: link.peer.id)
            pipelined.fulfil(request, result)
        case .queryResult(let request, _), .connectResult(let request, _), .claimResult(let request, _):
            replies.resolve(request, with: push, from: link.peer.id)
        case .deliver(let message):
            let outcome = state.withLock { $0.ledger.receive(message) }
            if outcome.delivered > 0 { counters.delivered.wrappingAdd(outcome.delivered, ordering: .relaxed) }
            if outcome.duplicates > 0 { counters.duplicates.wrappingAdd(outcome.duplicates, ordering: .relaxed) }
            // Acknowledged to the server that pushed it (the real client's rule while it is connected).
            for id in outcome.acknowledge {
                try? link.send(type: ClientProtocol.requestFrame, ClientRequest.acknowledge(id).encoded())
            }
            counters.acknowledgements.wrappingAdd(outcome.acknowledge.count, ordering: .relaxed)
        case .delivered(let recipient, let id):
            receipts.fulfil(ReceiptKey(recipient: recipient, id: id), true)
        case .expired(let recipient, let id):
            receipts.fulfil(ReceiptKey(recipient: recipient, id: id), false)
        case .batch(let pushes):
            // Not sent to this client (it announces no features); handled item by item all the same.
            for push in pushes { handle(push, on: link) }
        case .introduction, .welcome, .refused:
            break
        }
    }
}
