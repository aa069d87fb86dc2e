import ClientProtocol
import DequeModule
import Logging
import MessageModel
import P2PCore
import Transport
import WireCodec

/// The client's state: its links to servers, the messages it is sending, and the messages it
/// is handing to the application (see docs/DELIVERY.md).
actor ClientEngine {
    nonisolated let me: NodeID
    nonisolated let configuration: ClientConfiguration
    nonisolated let replies = PendingReplies<ServerPush>()
    private let ledger: ClientLedger
    private let linkConfiguration: LinkConfiguration
    private let logger: Logger
    private var stopped = false
    /// Direct links to other clients (`nil` when turned off).
    nonisolated let direct: DirectPaths?
    /// The cluster key this client trusts.
    nonisolated let pin: ClusterKeyPin

    // MARK: Servers
    private struct Connection {
        var link: Link?
        var server: NodeID?
        var lastError: String?
    }
    private var connections: [String: Connection] = [:]
    private var primary: String?
    private var leader: NodeID?
    private var startWaiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    private var nextStartWaiter: UInt64 = 0

    // MARK: Sending
    private enum Fate { case pending, stored }
    private struct Outgoing {
        var message: MailMessage
        var fate: Fate = .pending
        var inOutbox = true
        var transmitting = false
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    }
    /// A message id names a sequence number per recipient, so it is unique only with its recipient.
    private struct OutgoingKey: Hashable {
        let recipient: NodeID
        let id: MessageID
    }
    private var outgoing: [OutgoingKey: Outgoing] = [:]
    private var knownRecipients: [NodeID: ClientRecord] = [:]
    private var nextWaiter: UInt64 = 0
    private var toPrepare: [(recipient: NodeID, payload: [UInt8], continuation: CheckedContinuation<MessageID, any Error>)] = []
    private var toResolve: [(recipient: NodeID, sequence: UInt64)] = []
    private var toSkip: [(recipient: NodeID, sequence: UInt64)] = []
    private var ledgerFlushScheduled = false
    /// Sent messages whose delivery was acknowledged on a direct path / through the relay.
    private(set) var deliveries: (direct: Int, relayed: Int) = (0, 0)
    /// Messages offered on a direct path, waiting for the recipient's acknowledgement.
    private var directWaiters: [OutgoingKey: CheckedContinuation<Bool, Never>] = [:]

    // MARK: Receiving
    private var deliveredThrough: [NodeID: UInt64] = [:]
    private var nextExpected: [NodeID: UInt64] = [:]
    /// Where a received message came from, hence where its acknowledgement goes.
    private enum Route {
        case relay
        case direct(Link)
    }
    private var early: [NodeID: [UInt64: (message: MailMessage, route: Route)]] = [:]
    private var ready = Deque<(message: MailMessage, route: Route)>()
    private var receiver: CheckedContinuation<ReceivedMessage?, any Error>?
    private static let earlyLimit = 4096

    init(
        me: NodeID, ledger: ClientLedger, linkConfiguration: LinkConfiguration, configuration: ClientConfiguration,
        direct: DirectPaths?, pin: ClusterKeyPin, logger: Logger
    ) {
        self.me = me
        self.pin = pin
        self.direct = direct
        self.ledger = ledger
        self.linkConfiguration = linkConfiguration
        self.configuration = configuration
        self.logger = logger
        for address in configuration.servers { connections[address] = Connection() }
    }

    /// Resumes the messages a previous run left in the outbox.
    func resumeOutbox() throws {
        for pending in try ledger.pending() {
            let key = OutgoingKey(recipient: pending.recipient, id: pending.id)
            outgoing[key] = Outgoing(message: MailMessage(
                id: pending.id, recipient: pending.recipient, payload: pending.payload, enqueuedAtMillis: 0, isSkip: pending.isSkip
            ))
            Task { await self.transmit(key) }
        }
    }

    // MARK: Server links

    /// Keeps a link to the server at `address` open, redialling with backoff, until cancelled.
    nonisolated func maintain(_ address: String) async {
        guard let target = HostPort(address) else {
            await disconnected(address, nil, reason: "malformed address (expected host:port)")
            return
        }
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            var link: Link?
            do {
                let dialled = try await LinkDialer.connect(host: target.host, port: target.port, configuration: linkConfiguration)
                link = dialled
                try Self.checkServerIdentity(dialled.peer)
                var verified = false
                try dialled.send(type: ClientProtocol.requestFrame, ClientRequest.hello(ClientHello(
                    lanAddresses: Array((direct?.tcpCandidates ?? []).prefix(ClientRecord.Limits.maximumLANAddresses)),
                    listenAddress: configuration.listenHost,
                    listenPort: direct.map { UInt16(clamping: $0.tcpPort) } ?? configuration.listenPort, subscribe: false
                )).encoded())
                for try await frame in dialled.inbound {
                    guard frame.type == ClientProtocol.pushFrame else { continue }
                    let push = try ServerPush(decoding: frame.bytes)
                    switch push {
                    case .welcome, .refused: break
                    default:
                        // Nothing counts before the server proved it is one.
                        guard verified else { throw ClientError.untrustedServer(dialled.peer.id, "it spoke before proving the cluster key") }
                    }
                    switch push {
                    case .sendResult(let request, _), .queryResult(let request, _), .connectResult(let request, _):
                        replies.resolve(request, with: push, from: dialled.peer.id)
                    case .introduction(let introduction):
                        await direct?.introduced(introduction)
                    case .welcome(let server, let leader, let clusterKey, let proof):
                        guard server == dialled.peer.id,
                              ClusterKey.isValid(proof: proof, publicKey: clusterKey, channelBinding: dialled.peer.channelBinding, server: server)
                        else { throw ClientError.untrustedServer(dialled.peer.id, "it could not prove a cluster key") }
                        guard pin.admits(clusterKey) else {
                            throw ClientError.untrustedServer(
                                dialled.peer.id, "it belongs to cluster \(ClusterKey.fingerprint(of: clusterKey)), not the trusted \(pin.fingerprint ?? "?")"
                            )
                        }
                        verified = true
                        backoff = .milliseconds(100)
                        await connected(address, dialled, server: server, leader: leader)
                    case .refused(let reason):
                        throw ClientError.refused(reason)
                    case .deliver(let message):
                        await received(message, from: dialled)
                    case .delivered(let recipient, let id):
                        await delivered(OutgoingKey(recipient: recipient, id: id), direct: false)
                    }
                }
                await disconnected(address, dialled, reason: "the server closed the link")
            } catch {
                await disconnected(address, link, reason: "\(error)")
            }
            link?.close()
            do { try await Task.sleep(for: backoff) } catch { return }
            backoff = min(backoff * 2, .seconds(2))
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

    private func connected(_ address: String, _ link: Link, server: NodeID, leader: NodeID?) {
        connections[address] = Connection(link: link, server: server, lastError: nil)
        self.leader = leader
        if primary == nil { subscribe(at: address) }
        if let direct { Task { self.reportDirectPeers(await direct.peers, to: [link]) } }
        for waiter in startWaiters.values { waiter.resume() }
        startWaiters.removeAll()
        // Whatever is not delivered yet is offered again: the server answers idempotently, and
        // a receipt missed while disconnected shows up as "already delivered".
        for key in outgoing.keys { Task { await self.transmit(key, once: true) } }
    }

    private func disconnected(_ address: String, _ link: Link?, reason: String) {
        guard link == nil || connections[address]?.link === link else {
            connections[address]?.lastError = reason
            return
        }
        connections[address] = Connection(link: nil, server: nil, lastError: reason)
        if primary == address {
            primary = nil
            if let next = connections.first(where: { $0.value.link != nil })?.key { subscribe(at: next) }
        }
    }

    /// Asks the server at `address` to push this client's mail (one server does at a time).
    private func subscribe(at address: String) {
        guard let link = connections[address]?.link else { return }
        primary = address
        try? link.send(type: ClientProtocol.requestFrame, ClientRequest.subscribe(true).encoded())
    }

    /// Returns once a server accepted the client; throws ``ClientError`` after `timeout`.
    func waitUntilAttached(timeout: Duration) async throws {
        if connections.values.contains(where: { $0.link != nil }) { return }
        nextStartWaiter += 1
        let waiter = nextStartWaiter
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.failStart(waiter)
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { startWaiters[waiter] = $0 }
    }

    /// `waiter`'s own deadline passed (others keep their own deadlines).
    private func failStart(_ waiter: UInt64) {
        guard let continuation = startWaiters.removeValue(forKey: waiter) else { return }
        var reasons: [String: String] = [:]
        for (address, connection) in connections { reasons[address] = connection.lastError ?? "no answer" }
        let refusal = reasons.values.first { $0.contains("refused by the cluster") }
        let error: ClientError = refusal.map { .refused($0) } ?? .noReachableServer(reasons: reasons)
        continuation.resume(throwing: error)
    }

    var serverStatus: (leader: NodeID?, connected: [NodeID], unconnected: [String]) {
        (
            leader,
            connections.values.compactMap(\.server).sorted(),
            connections.filter { $0.value.link == nil }.map(\.key).sorted()
        )
    }

    private var connectedLinks: [Link] { connections.values.compactMap(\.link) }

    // MARK: Queries

    func query(_ query: ClientRequest.Query) async throws -> QueryResult {
        for link in connectedLinks.shuffled() {
            if let result = await ask(query, on: link) {
                if case .unavailable = result { continue }
                return result
            }
        }
        throw SendError.noReachableServer
    }

    /// One server's answer to `query`, or `nil` if it gave none in time.
    private func ask(_ query: ClientRequest.Query, on link: Link) async -> QueryResult? {
        guard case .queryResult(_, let result)? = await exchange(on: link, { .query(request: $0, query) }) else { return nil }
        return result
    }

    /// Sends the request `build` makes with a fresh request number and returns the server's
    /// answer to it, or `nil` if none came within `attemptTimeout`.
    private func exchange(on link: Link, _ build: (UInt64) -> ClientRequest) async -> ServerPush? {
        let request = replies.nextRequest()
        let bytes = build(request).encoded()
        return try? await replies.wait(for: request, timeout: configuration.attemptTimeout, origin: link.peer.id) {
            try link.send(type: ClientProtocol.requestFrame, bytes)
        }
    }

    /// The recipient's registry entry; `nil` only when every connected server that answers
    /// says it does not exist. Servers deny a client only after a read barrier (a lagging replica
    /// answers `.unavailable`); asking every server also covers one partitioned with a stale leader.
    private func record(of recipient: NodeID) async throws -> ClientRecord? {
        if let known = knownRecipients[recipient] { return known }
        var answered = false
        for link in connectedLinks.shuffled() {
            guard case .client(let record)? = await ask(.client(recipient), on: link) else { continue }
            answered = true
            if let record {
                knownRecipients[recipient] = record
                return record
            }
        }
        guard answered else { throw SendError.noReachableServer }
        return nil
    }

    // MARK: Sending

    func send(to recipient: NodeID, data: [UInt8], timeout: Duration) async throws -> MessageID {
        guard !stopped else { throw SendError.clientStopped }
        guard data.count <= configuration.maximumMessageSize else {
            throw SendError.messageTooLarge(size: data.count, limit: configuration.maximumMessageSize)
        }
        if connectedLinks.isEmpty, await direct?.link(to: recipient) == nil {
            // Links come back by themselves after a server restart: give them a moment.
            do {
                try await waitUntilAttached(timeout: min(timeout, configuration.attemptTimeout))
            } catch {
                throw SendError.noReachableServer
            }
        }
        guard try await record(of: recipient) != nil else { throw SendError.unknownRecipient(recipient) }
        await direct?.want(recipient)
        // From here on the message is the client's promise: it is in the durable outbox.
        let id = try await prepare(recipient, data)
        let key = OutgoingKey(recipient: recipient, id: id)
        outgoing[key] = Outgoing(message: MailMessage(id: id, recipient: recipient, payload: data, enqueuedAtMillis: 0))
        nextWaiter += 1
        let waiter = nextWaiter
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.expire(key, waiter)
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { continuation in
            outgoing[key]?.waiters[waiter] = continuation
            Task { await self.transmit(key) }
        }
        return id
    }

    private func prepare(_ recipient: NodeID, _ payload: [UInt8]) async throws -> MessageID {
        try await withCheckedThrowingContinuation { continuation in
            toPrepare.append((recipient, payload, continuation))
            scheduleLedgerFlush()
        }
    }

    private func scheduleLedgerFlush() {
        guard !ledgerFlushScheduled else { return }
        ledgerFlushScheduled = true
        Task { self.flushLedger() }
    }

    private func flushLedger() {
        ledgerFlushScheduled = false
        let preparing = toPrepare
        let resolving = toResolve
        let skipping = toSkip
        toPrepare.removeAll()
        toResolve.removeAll()
        toSkip.removeAll()
        do {
            let prepared = try ledger.commit(prepare: preparing.map { ($0.recipient, $0.payload) }, resolve: resolving, skip: skipping)
            for (request, outgoing) in zip(preparing, prepared) { request.continuation.resume(returning: outgoing.id) }
        } catch {
            logger.error("client ledger write failed: \(error)")
            for request in preparing { request.continuation.resume(throwing: error) }
        }
    }

    /// Hands message `id` to a server, retrying with backoff until it has a fate (or just once).
    private func transmit(_ key: OutgoingKey, once: Bool = false) async {
        guard let entry = outgoing[key], once || !entry.transmitting else { return }
        if !once { outgoing[key]?.transmitting = true }
        // An owed skip only goes through the relay (a recipient refuses skips on a direct link).
        if !once, !entry.message.isSkip, await sendDirectly(key) { return }
        var pause: Duration = .milliseconds(50)
        while let entry = outgoing[key], once || entry.fate == .pending, !stopped {
            if let link = await pickServer(for: entry.message.recipient) {
                if case .sendResult(_, let result)? = await exchange(on: link, { .send(request: $0, message: entry.message) }) {
                    if handle(result, for: key) { break }
                }
            }
            if once { break }
            do { try await Task.sleep(for: pause) } catch { break }
            // An owed skip waits for the recipient to take mail from its mailbox: no hurry.
            pause = min(pause * 2, outgoing[key]?.message.isSkip == true ? .seconds(5) : .seconds(1))
        }
        if !once { outgoing[key]?.transmitting = false }
    }

    /// Offers the message on the direct path, if there is one; `true` once the recipient
    /// acknowledged it within `attemptTimeout` (otherwise the relay takes over, same id).
    private func sendDirectly(_ key: OutgoingKey) async -> Bool {
        guard let direct, let entry = outgoing[key], let link = await direct.link(to: key.recipient) else { return false }
        var writer = ByteWriter()
        entry.message.encode(into: &writer)
        guard outgoing[key] != nil, (try? link.send(type: DirectPaths.FrameType.message, writer.bytes)) != nil else { return false }
        let timer = Task {
            try await Task.sleep(for: configuration.attemptTimeout)
            self.directAttemptTimedOut(key)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { directWaiters[key] = $0 }
    }

    private func directAttemptTimedOut(_ key: OutgoingKey) {
        directWaiters.removeValue(forKey: key)?.resume(returning: false)
    }

    /// A frame on a direct link: a message for this client, or the acknowledgement of one it sent.
    func directFrame(_ link: Link, _ frame: Frame) {
        var reader = ByteReader(frame.bytes)
        switch frame.type {
        case DirectPaths.FrameType.message:
            guard let message = try? MailMessage.decode(from: &reader), message.id.sender == link.peer.id, !message.isSkip else {
                logger.notice("closing the direct link to \(link.peer.id): malformed or misattributed message")
                return link.close()
            }
            received(message, route: .direct(link))
        case DirectPaths.FrameType.acknowledge:
            guard let sender = try? reader.readNodeID("ack.sender"), let sequence = try? reader.readUInt64("ack.sequence"), sender == me else { return }
            delivered(OutgoingKey(recipient: link.peer.id, id: MessageID(sender: me, sequence: sequence)), direct: true)
        default:
            return
        }
    }

    /// The recipient acknowledged `key`: `send` may return.
    private func delivered(_ key: OutgoingKey, direct: Bool) {
        guard outgoing[key] != nil else { return }
        if direct { deliveries.direct += 1 } else { deliveries.relayed += 1 }
        complete(key, with: .success(()))
    }

    /// Tells servers which peers this client reaches directly (all connected ones when `links` is nil).
    func reportDirectPeers(_ peers: [NodeID], to links: [Link]? = nil) {
        let bytes = ClientRequest.directPeers(Array(peers.prefix(ClientRecord.Limits.maximumDirectPeers))).encoded()
        for link in links ?? connectedLinks { try? link.send(type: ClientProtocol.requestFrame, bytes) }
    }

    /// Asks a connected server to introduce this client to `peer`.
    func introduce(_ peer: NodeID, tcp: [String], udp: [String]) async -> Introduction? {
        guard let link = primary.flatMap({ connections[$0]?.link }) ?? connectedLinks.randomElement() else { return nil }
        let tcp = Self.capped(tcp)
        let udp = Self.capped(udp)
        guard case .connectResult(_, let introduction)? = await exchange(on: link, { .connect(request: $0, peer: peer, tcp: tcp, udp: udp) }) else {
            return nil
        }
        return introduction
    }

    /// At most ``ClientRecord/Limits/maximumCandidates`` valid candidates, keeping the last one
    /// (the public mapping, when there is one) over the LAN addresses before it.
    private static func capped(_ candidates: [String]) -> [String] {
        let valid = candidates.filter(ClientRecord.isAddress)
        let limit = ClientRecord.Limits.maximumCandidates
        guard valid.count > limit, let last = valid.last else { return valid }
        return Array(valid.prefix(limit - 1)) + [last]
    }

    /// The registered identity key of `peer`, to check who is at the other end of a direct link.
    func publicKey(of peer: NodeID) async -> [UInt8]? {
        (try? await record(of: peer))?.publicKey
    }

    /// A random server the recipient is attached to, else any connected server.
    private func pickServer(for recipient: NodeID) async -> Link? {
        let attached = Set(knownRecipients[recipient]?.attachedServers ?? [])
        let links = connections.values.filter { $0.link != nil }
        let preferred = links.filter { $0.server.map(attached.contains) ?? false }
        return (preferred.isEmpty ? links : preferred).randomElement()?.link
    }

    /// Applies a server's answer to `key`; `true` when the answer settles it (no more retries).
    private func handle(_ result: SendResult, for key: OutgoingKey) -> Bool {
        if outgoing[key]?.message.isSkip == true { return handleOwedSkip(result, for: key) }
        switch result {
        case .stored:
            guard outgoing[key]?.fate == .pending else { return true }
            outgoing[key]?.fate = .stored
            resolveOutbox(key)
        case .alreadyDelivered:
            complete(key, with: .success(()))
        case .mailboxFull:
            complete(key, with: .failure(SendError.mailboxFull(outgoing[key]?.message.recipient ?? me)))
        case .unknownRecipient:
            complete(key, with: .failure(SendError.unknownRecipient(outgoing[key]?.message.recipient ?? me)))
        case .tooLarge(let limit):
            complete(key, with: .failure(SendError.messageTooLarge(size: outgoing[key]?.message.payload.count ?? 0, limit: limit)))
        case .quotaExceeded(let limit):
            return oweSkip(key, SendError.quotaExceeded(key.recipient, limit: limit))
        case .storageFull(let limit):
            return oweSkip(key, SendError.storageFull(limit: limit))
        case .unavailable:
            return false
        }
        return true
    }

    /// Nothing was stored for `key`, not even a skip, but its sequence number is taken: the
    /// message is given up (`send` throws `error`, "not accepted") and a skip for the id takes
    /// its place in the outbox, retried until the recipient's mailbox takes it, so the recipient
    /// does not wait for that sequence forever. `false`: keep retrying (now the skip).
    private func oweSkip(_ key: OutgoingKey, _ error: SendError) -> Bool {
        guard var entry = outgoing[key], entry.fate == .pending, entry.inOutbox else { return true }
        let waiters = entry.waiters
        entry.waiters = [:]
        entry.message = MailMessage(id: key.id, recipient: key.recipient, payload: [], enqueuedAtMillis: 0, isSkip: true)
        outgoing[key] = entry
        toSkip.append((key.recipient, key.id.sequence))
        scheduleLedgerFlush()
        for waiter in waiters.values { waiter.resume(throwing: error) }
        return false
    }

    /// A server's answer to an owed skip: any answer that says the id is filled settles it.
    private func handleOwedSkip(_ result: SendResult, for key: OutgoingKey) -> Bool {
        switch result {
        case .stored, .alreadyDelivered, .mailboxFull, .unknownRecipient, .tooLarge:
            complete(key, with: .success(()))
            return true
        case .quotaExceeded, .storageFull, .unavailable:
            return false
        }
    }

    private func resolveOutbox(_ key: OutgoingKey) {
        guard let entry = outgoing[key], entry.inOutbox else { return }
        outgoing[key]?.inOutbox = false
        toResolve.append((key.recipient, key.id.sequence))
        scheduleLedgerFlush()
    }

    /// The message has its final fate: wake its `send`s and forget it.
    private func complete(_ key: OutgoingKey, with result: Result<Void, any Error>) {
        guard outgoing[key] != nil else { return }
        resolveOutbox(key)
        guard let entry = outgoing.removeValue(forKey: key) else { return }
        directWaiters.removeValue(forKey: key)?.resume(returning: true)
        for waiter in entry.waiters.values { waiter.resume(with: result) }
    }

    /// `send`'s deadline passed: tell the caller where the message stands.
    private func expire(_ key: OutgoingKey, _ waiter: UInt64) {
        guard let continuation = outgoing[key]?.waiters.removeValue(forKey: waiter), let entry = outgoing[key] else { return }
        switch entry.fate {
        case .stored:
            continuation.resume(throwing: SendError.stored(key.id))
            // The cluster owns it now; nothing is left for this client to do.
            if entry.waiters.isEmpty { outgoing[key] = nil }
        case .pending:
            continuation.resume(throwing: SendError.pending(key.id))
        }
    }

    // MARK: Receiving

    /// A message a server pushed from the mailbox.
    private func received(_ message: MailMessage, from server: Link) {
        received(message, route: .relay, duplicateAcknowledgement: server)
    }

    /// Orders `message` among those from its sender; a duplicate is acknowledged again (on
    /// `duplicateAcknowledgement` for relayed ones, the link it came on for direct ones).
    private func received(_ message: MailMessage, route: Route, duplicateAcknowledgement server: Link? = nil) {
        guard message.recipient == me else { return }
        let sender = message.id.sender
        let through = delivered(sender)
        let expected = nextExpected[sender] ?? through + 1
        if message.id.sequence <= through {
            // Already handed to the application: the acknowledgement was lost. Send it again.
            acknowledge(message.id, route: route, server: server)
            return
        }
        guard message.id.sequence >= expected else { return }  // already queued for the application
        guard (early[sender]?.count ?? 0) < Self.earlyLimit else { return }  // sent again later
        // The same message may arrive on both paths: the first copy is kept.
        if early[sender]?[message.id.sequence] == nil { early[sender, default: [:]][message.id.sequence] = (message, route) }
        var next = expected
        while let ready = early[sender]?.removeValue(forKey: next) {
            self.ready.append(ready)
            next += 1
        }
        nextExpected[sender] = next
        handOver()
    }

    private func delivered(_ sender: NodeID) -> UInt64 {
        if let through = deliveredThrough[sender] { return through }
        let through = (try? ledger.deliveredThrough(sender)) ?? 0
        deliveredThrough[sender] = through
        return through
    }

    func nextMessage() async throws -> ReceivedMessage? {
        guard !stopped else { return nil }
        try Task.checkCancellation()
        guard receiver == nil else { throw SendError.clientStopped }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                receiver = continuation
                handOver()
            }
        } onCancel: {
            Task { await self.cancelReceive() }
        }
    }

    private func cancelReceive() {
        receiver?.resume(throwing: CancellationError())
        receiver = nil
    }

    /// Hands the next in-order message to a waiting receiver: it is recorded as delivered first,
    /// then acknowledged. Skips (refused messages) advance the order without reaching the application.
    private func handOver() {
        while let receiver, let (message, route) = ready.first {
            do {
                try ledger.markDelivered(message.id)
            } catch {
                logger.error("client ledger write failed: \(error)")
                return
            }
            ready.removeFirst()
            deliveredThrough[message.id.sender] = message.id.sequence
            acknowledge(message.id, route: route)
            guard !message.isSkip else { continue }
            self.receiver = nil
            receiver.resume(returning: ReceivedMessage(from: message.id.sender, data: message.payload, id: message.id))
        }
    }

    /// Acknowledges `id` on the path it came by. A direct message's acknowledgement goes back
    /// on its link (if that link is gone the sender relays the message, and the relayed copy is
    /// acknowledged as a duplicate); a relayed one's to `server`, else the subscribed server.
    private func acknowledge(_ id: MessageID, route: Route, server: Link? = nil) {
        switch route {
        case .direct(let link):
            var writer = ByteWriter()
            writer.write(id.sender)
            writer.write(id.sequence)
            try? link.send(type: DirectPaths.FrameType.acknowledge, writer.bytes)
        case .relay:
            let target = server ?? primary.flatMap { connections[$0]?.link } ?? connectedLinks.first
            try? target?.send(type: ClientProtocol.requestFrame, ClientRequest.acknowledge(id).encoded())
        }
    }

    // MARK: Stopping

    func stop() {
        stopped = true
        for (_, connection) in connections { connection.link?.close() }
        for entry in outgoing.values {
            for waiter in entry.waiters.values { waiter.resume(throwing: SendError.clientStopped) }
        }
        outgoing.removeAll()
        for waiter in directWaiters.values { waiter.resume(returning: false) }
        directWaiters.removeAll()
        for waiter in startWaiters.values { waiter.resume(throwing: SendError.clientStopped) }
        startWaiters.removeAll()
        receiver?.resume(returning: nil)
        receiver = nil
        replies.failAll(SendError.clientStopped)
        if !toPrepare.isEmpty || !toResolve.isEmpty { flushLedger() }
    }
}
