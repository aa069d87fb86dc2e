import ClientProtocol
import Logging
import MessageModel
import Raft
import Synchronization
import Mailbox
import P2PCore
import Transport
import WireCodec

/// Serving one client's link: who it is, what it may ask, and at what pace.
extension ClientGateway {
    /// Serves one client's link: registers and attaches it (``register(_:observedAddress:)``), then
    /// answers its requests until it closes.
    ///
    /// The client is its proven id (the handshake checked its key): it sends as itself,
    /// acknowledges its own mail and asks for introductions to others, nothing more. A legacy
    /// id (random, from before ids were derived from keys) is served only if the registry
    /// already binds it to this key.
    func serve(_ link: Link, _ hello: ClientHello) async {
        let client = link.peer.id
        guard let replica = await raft.replicaLatch.wait(timeout: .seconds(30)) else {
            context.metrics.rejected(.clusterNotFormed)
            push(.refused(reason: "the cluster has not formed yet"), on: link)
            return link.close()
        }
        if !client.isDerived(from: link.peer.publicKey) {
            // After a read barrier, so that a lagging replica does not turn an old client away.
            let lookup = await RaftDriver.lookUpClient(client, in: replica, readIndex: { await self.raft.readIndex() }, timeout: .seconds(2))
            guard case .client(let existing?) = lookup, existing.publicKey == link.peer.publicKey else {
                logger.notice("refusing client \(client): its id is not derived from its key and not registered with it")
                context.metrics.rejected(.identity)
                push(.refused(reason: "client id \(client) is neither derived from the client's key nor registered with it"), on: link)
                return link.close()
            }
        }
        let record = ClientRecord(
            id: client, publicKey: link.peer.publicKey, lanAddresses: hello.lanAddresses,
            listenAddress: hello.listenAddress, listenPort: hello.listenPort, lastSeenMillis: Self.nowMillis()
        )
        let attached: Bool
        switch await register(record, observedAddress: link.peer.remoteAddress) {
        case .registered(let done):
            attached = done
        case .refused(let reason):
            push(.refused(reason: reason), on: link)
            return link.close()
        }
        let session = ClientSession(
            client: client, link: link, store: replica.mailboxes, registry: sessions, allQueued: context.clientQueuedBytes,
            metrics: context.metrics
        )
        guard sessions.add(session) else {
            // Its other links keep it attached here: nothing to detach.
            context.metrics.rejected(.tooManyLinks)
            push(.refused(reason: "client \(client) already holds \(ClientSessions.maximumPerClient) links to this server"), on: link)
            return link.close()
        }
        defer {
            link.close()
            if sessions.remove(session) { detach(client) }
        }
        if !attached {
            do {
                _ = try await raft.commit(
                    .attach(client: client, server: id, observedAddress: link.peer.remoteAddress, atMillis: Self.nowMillis()),
                    budget: .seconds(30)
                )
            } catch {
                await session.push(.refused(reason: "could not attach: \(error)"))
                return
            }
        }
        await session.push(.welcome(
            server: id, leader: await replica.leader, clusterKey: context.clusterKey.publicKeyBytes,
            proof: context.clusterKey.proof(channelBinding: link.peer.channelBinding, server: id)
        ))
        // What this server takes beyond the base protocol; an older client skips the frame.
        try? link.send(type: ClientProtocol.featuresFrame, LinkFeatures.supported.encoded())
        if hello.subscribe { await session.setSubscribed(true) }
        logger.debug("client attached", metadata: ["p2p.client": "\(client)"])
        var frames = link.inbound.makeAsyncIterator()
        await serveRequests(of: client, session, replica, &frames)
    }

    /// Answers a client's requests until its link closes. Requests that commit through Raft
    /// run concurrently, at most ``ServerConfiguration/maximumRequestsInFlight`` at a time and at
    /// the client's ``ServerConfiguration/clientSendRate``: beyond either the link is simply read
    /// more slowly, so a client can slow down only itself.
    private func serveRequests(of client: NodeID, _ session: ClientSession, _ replica: ReplicatedMailboxes, _ frames: inout LinkFrameIterator) async {
        let link = session.link
        var bucket = TokenBucket(rate: configuration.clientSendRate, burst: configuration.clientSendRate * 2)
        var lastIntroduction: [NodeID: ContinuousClock.Instant] = [:]
        var relayedTo: Set<NodeID> = []
        var lastPathReport: ContinuousClock.Instant?
        // Sends and acknowledgements that arrive together commit together (one proposal each way).
        let inFlight = InFlightGauge(limit: configuration.maximumRequestsInFlight)
        let sends = Coalescer<(request: UInt64, message: MailMessage)> { items in
            await self.relay(items, for: session)
            inFlight.leave(items.count)
        }
        // Acknowledgements being committed: a duplicate of one of them is not proposed again (at
        // most ``ServerConfiguration/maximumRequestsInFlight`` ids, each holding a place).
        let committing = Mutex<Set<MessageID>>([])
        // One commit of acknowledgements at a time, held a little: the receipts went already,
        // so acknowledgements can wait and share a Raft entry instead of taking one each (half
        // the entries of a one-at-a-time conversation). Held at most half the in-flight places.
        let acknowledgements = Coalescer<MessageID>(.held(
            delay: configuration.acknowledgementHold, limit: max(1, configuration.maximumRequestsInFlight / 2)
        )) { ids in
            // A lost acknowledgement is harmless: the message is pushed again and acknowledged again.
            await self.commitAcknowledgements(ids, of: client)
            committing.withLock { $0.subtract(ids) }
            inFlight.leave(ids.count)
        }
        await withTaskGroup(of: Void.self) { group in
            do {
                while let frame = try await frames.next() {
                    // A client that does not read its answers is not read either.
                    while link.queuedBytes > Self.answerBacklog { try await Task.sleep(for: .milliseconds(5)) }
                    if frame.type == ClientProtocol.featuresFrame {
                        await session.setClientFeatures(try LinkFeatures(decoding: frame.bytes))
                        continue
                    }
                    guard frame.type == ClientProtocol.requestFrame else {
                        throw TransportError.protocolViolation("frame type \(frame.type) is not allowed on a client link")
                    }
                    let decoded = try ClientRequest(decoding: frame.bytes)
                    // A batch (bounded and flat, see FrameBatch) is served as its requests one by one.
                    let requests = if case .batch(let batched) = decoded { batched } else { [decoded] }
                    var acknowledged: [MessageID] = []
                    for request in requests {
                        if request.commits {
                            await inFlight.enter()
                            let wait = bucket.take(now: .now)
                            if wait > .zero { try await Task.sleep(for: wait) }
                        }
                        switch request {
                        case .hello:
                            throw TransportError.protocolViolation("a second hello")
                        case .send(let request, let message):
                            guard message.id.sender == client else {
                                throw TransportError.protocolViolation("client \(client) sent as \(message.id.sender)")
                            }
                            // For the monitor's path view: a new recipient only, not every message.
                            if relayedTo.count < ClientSession.maximumRelayedPeers, relayedTo.insert(message.recipient).inserted {
                                await session.noteRelayed(to: message.recipient)
                            }
                            sends.add((request, message))
                        case .acknowledge(let messageID):
                            passOnReceipt(of: messageID, by: client, replica.mailboxes)
                            acknowledged.append(messageID)
                            // Proposed only if it would change something: the id is still in the
                            // mailbox (if unsure, it is) and not being committed already.
                            if (try? replica.mailboxes.holdsItem(messageID, for: client)) != false,
                               committing.withLock({ $0.insert(messageID).inserted }) {
                                acknowledgements.add(messageID)
                            } else {
                                inFlight.leave(1)
                            }
                        case .claim(let request, let messageID):
                            group.addTask {
                                let result = await self.claim(messageID, for: client)
                                await session.push(.claimResult(request: request, result))
                                inFlight.leave(1)
                            }
                        case .subscribe(let on):
                            await session.setSubscribed(on)
                        case .query(let request, let query):
                            let result = await answer(query, replica)
                            await session.push(.queryResult(request: request, result))
                        case .connect(let request, let peer, let tcp, let udp):
                            var introduction: Introduction?
                            let now = ContinuousClock.now
                            if lastIntroduction[peer].map({ now - $0 >= configuration.introductionInterval }) ?? true {
                                if lastIntroduction.count > 4096 { lastIntroduction.removeAll() }
                                lastIntroduction[peer] = now
                                introduction = await introduce(client, to: peer, tcp: tcp, udp: udp, replica)
                            }
                            await session.push(.connectResult(request: request, introduction))
                        case .directPeers(let peers):
                            await session.setDirectPeers(peers)
                        case .pathReport(let reports):
                            let now = ContinuousClock.now
                            guard lastPathReport.map({ now - $0 >= PathReports.minimumInterval }) ?? true else { continue }
                            lastPathReport = now
                            recordPathReports(reports, from: client, replica)
                        case .batch:
                            throw TransportError.protocolViolation("a nested batch")
                        }
                    }
                    // The client reads what is pushed (one session hop for a batch).
                    if !acknowledged.isEmpty { await session.acknowledgementsReceived(acknowledged) }
                }
            } catch {
                if Self.isViolation(error) { context.metrics.rejected(.protocolViolation) }
                logger.debug("client link closed", metadata: ["p2p.client": "\(client)", "p2p.reason": "\(error)"])
            }
            group.cancelAll()
        }
    }

    /// Whether a client link ended because the client broke the protocol (not because it closed).
    static func isViolation(_ error: any Error) -> Bool {
        if case TransportError.protocolViolation = error { return true }
        return error is DecodingError
    }

    /// Bytes queued for a client beyond which its next request waits.
    static let answerBacklog = 1 << 20

    private func answer(_ query: ClientRequest.Query, _ replica: ReplicatedMailboxes) async -> QueryResult {
        switch query {
        case .servers:
            return .servers(leader: await replica.leader, members: await replica.membership.all.sorted())
        case .clients:
            // A client from before pagination: the first page, in the shape it understands.
            let page = try? P2PServer.clientRecords(replica.mailboxes, after: nil, limit: ClientRequest.maximumClientsPerPage)
            return .clients(page?.records ?? [])
        case .clientPage(let after, let limit):
            let capped = min(max(Int(limit), 1), ClientRequest.maximumClientsPerPage)
            guard let page = try? P2PServer.clientRecords(replica.mailboxes, after: after, limit: capped) else {
                return .unavailable("the registry could not be read")
            }
            return .clientPage(page.records, more: page.more)
        case .client(let id):
            return await RaftDriver.lookUpClient(id, in: replica, readIndex: { await self.raft.readIndex() }, timeout: .seconds(2))
        }
    }

    private func push(_ message: ServerPush, on link: Link) {
        try? link.send(type: ClientProtocol.pushFrame, message.encoded())
    }
}

extension ClientRequest {
    /// Whether the request commits through Raft (and so counts against the client's rate and in-flight cap).
    var commits: Bool {
        switch self {
        case .send, .acknowledge, .claim: true
        case .hello, .subscribe, .query, .connect, .directPeers, .pathReport, .batch: false
        }
    }
}
