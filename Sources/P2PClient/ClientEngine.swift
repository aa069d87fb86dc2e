import ClientProtocol
import Delivery
import Foundation
import Logging
import MessageModel
import P2PCore
import Transport

/// The shell around the client's delivery core (``ClientCore``, see docs/DELIVERY.md): it feeds
/// the core what happens — calls from the application, frames from servers and direct peers,
/// ledger confirmations, time — and carries out the core's directives. One timer serves every
/// deadline (the core's and start-up waits); `send`s and `receive` wait on continuations keyed
/// by token.
actor ClientEngine {
    nonisolated let me: NodeID
    nonisolated let configuration: ClientConfiguration
    nonisolated let replies = PendingReplies<ServerPush>()
    /// Direct links to other clients (`nil` when turned off).
    nonisolated let direct: DirectPaths?
    nonisolated let dialer: ServerDialer
    let logger: Logger
    nonisolated let metrics: ClientMetrics
    private(set) var stopped = false

    private var core: ClientCore
    private var inputs: [ClientCore.Input] = []
    private var draining = false
    /// The ledger's writer, off this actor; its confirmations come back through ``confirmations``.
    private let ledger: LedgerQueue
    private nonisolated let confirmations = AsyncStream<[ClientCore.Input]>.makeStream()
    /// Requests to servers from the current step, and the relay offers awaiting their answer.
    private var requests = ServerRequests()
    var connections: ServerConnections
    /// Which configured servers to attach to (see ``AttachmentPlan``).
    var plan: AttachmentPlan
    /// Wakes the supervisor of server links (``maintainServers()``) when the plan may have changed.
    nonisolated let planChanges = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    var registry = RegistryCache()
    var directLinks = DirectLinkTable()

    private var nextToken: UInt64 = 0
    private var sends: [SendToken: CheckedContinuation<MessageID, any Error>] = [:]
    /// When each pending `send` started, and how many deliveries the core had counted as direct
    /// after its last step (for the send latency by path).
    private var sendStarts: [SendToken: UInt64] = [:]
    private var directDeliveries = 0
    private var lastStepDeliveredDirectly = false
    private var reportedOutbox = -1
    /// The application's receive under way (single messages are batches of one).
    private var receiver: CheckedContinuation<[ReceivedMessage]?, any Error>?
    /// What the current step handed over: it goes to the receiver in one piece.
    private var handed: [ReceivedMessage] = []
    /// The receive's task was cancelled while the ledger recorded deliveries for it: it ends
    /// with those messages (or, if the recording failed, with the cancellation).
    private var receiveCancelRequested = false
    /// `deliveriesSettled()` calls waiting for the ledger to finish recording deliveries.
    private var settleWaiters: [CheckedContinuation<Void, Never>] = []
    /// `waitUntilAttached` calls, with their deadlines.
    private var attachWaiters: [UInt64: (deadline: UInt64, continuation: CheckedContinuation<Void, any Error>)] = [:]
    private let origin = ContinuousClock.now
    private var timer: (at: UInt64, task: Task<Void, Never>)?

    init(
        me: NodeID, ledger: ClientLedger, linkConfiguration: LinkConfiguration, configuration: ClientConfiguration,
        direct: DirectPaths?, pin: ClusterKeyPin, logger: Logger
    ) throws {
        self.me = me
        self.direct = direct
        self.configuration = configuration
        self.logger = logger
        metrics = ClientMetrics(factory: configuration.metricsFactory)
        let confirmed = confirmations.continuation
        self.ledger = LedgerQueue(ledger: ledger) { confirmed.yield($0) }
        connections = ServerConnections(addresses: configuration.servers)
        plan = AttachmentPlan(addresses: configuration.servers, client: me, maximum: configuration.maximumAttachedServers)
        dialer = ServerDialer(configuration: configuration, linkConfiguration: linkConfiguration, pin: pin, direct: direct, replies: replies)
        var coreConfiguration = ClientCore.Configuration()
        coreConfiguration.attemptTimeout = configuration.attemptTimeout.wholeMilliseconds
        // Messages a previous run left in the outbox are resumed at the core's first step.
        core = ClientCore(me: me, restoring: try ledger.contents(), configuration: coreConfiguration, seed: UInt64.random(in: .min ... .max))
    }

    /// Starts the core's clock (resumed outbox entries are due at once).
    func resume() {
        Task { [weak self, confirmations] in
            for await inputs in confirmations.stream { await self?.feed(contentsOf: inputs) }
        }
        feed(.tick)
    }

    var deliveries: (direct: Int, relayed: Int) { (core.deliveries.direct, core.deliveries.relayed) }

    /// The server to ask for things that are not about one server: the subscribed one, else any.
    var serverForRequests: Link? { core.subscribed.flatMap(connections.link(to:)) ?? connections.links.randomElement() }

    // MARK: The core

    /// Feeds `input` to the core and carries out its directives (and any input they produce).
    func feed(_ input: ClientCore.Input) {
        inputs.append(input)
        drain()
    }

    /// Feeds `inputs` to the core in order, in one turn.
    func feed(contentsOf inputs: [ClientCore.Input]) {
        self.inputs += inputs
        drain()
    }

    private func drain() {
        guard !draining else { return }
        draining = true
        var next = 0
        while next < inputs.count {
            while next < inputs.count {
                let directives = core.step(inputs[next], now: now)
                lastStepDeliveredDirectly = core.deliveries.direct != directDeliveries
                directDeliveries = core.deliveries.direct
                for directive in directives { execute(directive) }
                if !handed.isEmpty {
                    receiver?.resume(returning: handed)
                    receiver = nil
                    receiveCancelRequested = false
                    handed.removeAll()
                }
                if receiveCancelRequested, !core.isRecordingDelivery { endCancelledReceive() }
                next += 1
            }
            // What the inputs asked of servers goes out together (offers that could not are failed).
            for failed in requests.flush({ connections.outlet(to: $0) }) {
                inputs.append(.relayFailed(failed.key, server: failed.server))
            }
        }
        if !settleWaiters.isEmpty, !deliveryInFlight { releaseSettleWaiters() }
        if core.outboxCount != reportedOutbox {
            reportedOutbox = core.outboxCount
            metrics.outbox(reportedOutbox)
        }
        inputs.removeAll()
        draining = false
        rearmTimer()
    }

    private var now: UInt64 { (ContinuousClock.now - origin).wholeMilliseconds }

    private func execute(_ directive: ClientCore.Directive) {
        switch directive {
        case .persist(let batch):
            ledger.enqueue(batch)
        case .sendDirect(let message):
            Task { await self.offerDirectly(message) }
        case .relay(let message, let server):
            relay(message, to: server)
        case .subscribe(let server):
            requests.enqueue(.subscribe(true), to: server)
        case .claim(let id, let server):
            claim(id, from: server)
        case .acknowledgeRelayed(let id, let server):
            requests.enqueue(.acknowledge(id), to: server)
        case .acknowledgeDirect(let id, let link):
            var writer = ByteWriter()
            writer.write(id.sender)
            writer.write(id.sequence)
            try? directLinks.link(link)?.send(type: FrameType.directAcknowledge.rawValue, writer.bytes)
        case .handOver(let message):
            handed.append(ReceivedMessage(from: message.id.sender, data: message.payload, id: message.id))
        case .finishSend(let token, let result):
            if let started = sendStarts.removeValue(forKey: token), case .success = result {
                metrics.sent(after: now &- started, direct: lastStepDeliveredDirectly)
            }
            sends.removeValue(forKey: token)?.resume(with: result.mapError { $0.error(ledgerError: ledger.lastError) })
        }
    }

    private func relay(_ message: MailMessage, to server: NodeID) {
        let key = OutboxKey(recipient: message.recipient, id: message.id)
        guard connections.link(to: server) != nil else { return inputs.append(.relayFailed(key, server: server)) }
        let now = now
        requests.enqueueRelay(
            message, request: replies.nextRequest(), key: key, to: server, now: now, deadline: now &+ configuration.attemptTimeout.wholeMilliseconds
        )
    }

    /// What a server pushed: answers to relay offers, mail, receipts (one turn for a batch).
    func pushed(_ pushes: [ServerPush], from server: NodeID) {
        var inputs: [ClientCore.Input] = []
        inputs.reserveCapacity(pushes.count)
        for push in pushes {
            switch push {
            case .sendResult(let request, let result):
                // An answer to an offer not (or no longer) awaited is dropped, as a timed-out reply was.
                guard let key = requests.answered(request, from: server) else { continue }
                inputs.append(.relayAnswer(key, from: server, result))
            case .deliver(let message): inputs.append(.relayedMessage(message, from: server))
            case .delivered(let recipient, let id): inputs.append(.receipt(recipient: recipient, id: id))
            case .expired(let recipient, let id): inputs.append(.expiryReceipt(recipient: recipient, id: id))
            case .welcome, .refused, .queryResult, .claimResult, .introduction, .connectResult, .batch: continue
            }
        }
        feed(contentsOf: inputs)
    }

    private func claim(_ id: MessageID, from server: NodeID) {
        guard let link = connections.link(to: server) else { return inputs.append(.claimAnswer(id, from: server, nil)) }
        let request = replies.nextRequest()
        let bytes = ClientRequest.claim(request: request, id).encoded()
        Task {
            let answer = try? await replies.wait(for: request, timeout: configuration.attemptTimeout, origin: server) {
                try link.send(type: ClientProtocol.requestFrame, bytes)
            }
            guard case .claimResult(_, let result)? = answer else { return await feed(.claimAnswer(id, from: server, nil)) }
            await feed(.claimAnswer(id, from: server, result))
        }
    }

    static func wallClockMillis() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }

    private func offerDirectly(_ message: MailMessage) async {
        var writer = ByteWriter()
        message.encode(into: &writer)
        if let link = await direct?.link(to: message.recipient), (try? link.send(type: FrameType.directMessage.rawValue, writer.bytes)) != nil { return }
        feed(.directSendFailed(OutboxKey(recipient: message.recipient, id: message.id)))
    }

    // MARK: The timer

    /// Arms the one timer for the earliest deadline (the core's or a start-up wait's).
    private func rearmTimer() {
        guard !stopped, let due = ([core.nextDeadline] + attachWaiters.values.map(\.deadline)).compactMap({ $0 }).min() else { return }
        if let timer, timer.at <= due { return }
        timer?.task.cancel()
        // `now` reads the clock: read once, or it may pass `due` between the test and the subtraction.
        let now = now
        let delay = due > now ? due - now : 0
        timer = (due, Task { [weak self] in
            do { try await Task.sleep(for: .milliseconds(delay)) } catch { return }
            await self?.timerFired()
        })
    }

    private func timerFired() {
        timer = nil
        let now = now
        for (waiter, entry) in attachWaiters where entry.deadline <= now {
            attachWaiters[waiter] = nil
            entry.continuation.resume(throwing: connections.startFailure)
        }
        feed(.tick)
    }

    // MARK: Sending and receiving

    func send(to recipient: NodeID, data: [UInt8], timeout: Duration, timeToLive: Duration?) async throws -> MessageID {
        guard !stopped else { throw SendError.clientStopped }
        guard data.count <= configuration.maximumMessageSize else {
            throw SendError.messageTooLarge(size: data.count, limit: configuration.maximumMessageSize)
        }
        if connections.isEmpty, await direct?.link(to: recipient) == nil {
            // Links come back by themselves after a server restart: give them a moment.
            do {
                try await waitUntilAttached(timeout: min(timeout, configuration.attemptTimeout))
            } catch {
                throw SendError.noReachableServer
            }
        }
        guard try await record(of: recipient) != nil else { throw SendError.unknownRecipient(recipient) }
        // The expiry is absolute, by this host's wall clock (docs/DELIVERY.md: the clock assumption).
        let expiresAt = timeToLive.map { Self.wallClockMillis() &+ max(.zero, $0).wholeMilliseconds }
        if expiresAt == nil { await direct?.want(recipient) }
        nextToken += 1
        let token = SendToken(nextToken)
        // From here on the message is the client's promise: the core puts it in the durable outbox.
        return try await withCheckedThrowingContinuation { continuation in
            guard !stopped else { return continuation.resume(throwing: SendError.clientStopped) }
            sends[token] = continuation
            sendStarts[token] = now
            feed(.send(token, to: recipient, payload: data, timeout: timeout.wholeMilliseconds, expiresAt: expiresAt))
        }
    }

    /// Returns once a server accepted the client; throws ``ClientError`` after `timeout`.
    func waitUntilAttached(timeout: Duration) async throws {
        guard connections.isEmpty else { return }
        guard !stopped else { throw SendError.clientStopped }
        nextToken += 1
        let waiter = nextToken
        try await withCheckedThrowingContinuation { continuation in
            attachWaiters[waiter] = (now &+ timeout.wholeMilliseconds, continuation)
            rearmTimer()
        }
    }

    /// A server welcomed the client: start-up waits are over.
    func attached() {
        for entry in attachWaiters.values { entry.continuation.resume() }
        attachWaiters.removeAll()
    }

    func nextMessage() async throws -> ReceivedMessage? {
        try await nextBatch(upTo: 1)?.first
    }

    /// The next messages, up to `limit`, handed over together (`nil` once the client stopped).
    func nextBatch(upTo limit: Int) async throws -> [ReceivedMessage]? {
        guard !stopped else { return nil }
        try Task.checkCancellation()
        guard receiver == nil else { throw SendError.clientStopped }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                receiver = continuation
                receiveCancelRequested = false
                feed(limit <= 1 ? .receive : .receiveBatch(upTo: limit))
            }
        } onCancel: {
            Task { await self.cancelReceive() }
        }
    }

    private func cancelReceive() {
        guard receiver != nil else { return }
        // Messages the ledger is recording as delivered must reach the application: once
        // recorded, they would not be delivered again (not even after a restart).
        if core.isRecordingDelivery {
            receiveCancelRequested = true
            return
        }
        endCancelledReceive()
    }

    private func endCancelledReceive() {
        guard let receiver else { return }
        self.receiver = nil
        receiveCancelRequested = false
        receiver.resume(throwing: CancellationError())
        feed(.receiveCancelled)
    }

    /// Whether a waiting receive has deliveries being recorded for it.
    private var deliveryInFlight: Bool { receiver != nil && core.isRecordingDelivery }

    /// Returns once no delivery is being recorded for a waiting receive, so that what the
    /// ledger records as delivered reaches the application before the client stops.
    /// Waits at most 5 s (a ledger that no longer answers must not hold the shutdown).
    func deliveriesSettled() async {
        guard deliveryInFlight, !stopped else { return }
        let timeout = Task {
            guard (try? await Task.sleep(for: .seconds(5))) != nil else { return }
            self.releaseSettleWaiters()
        }
        await withCheckedContinuation { settleWaiters.append($0) }
        // Settled in time: the timer need not keep the engine for the rest of its 5 s.
        timeout.cancel()
    }

    private func releaseSettleWaiters() {
        for waiter in settleWaiters { waiter.resume() }
        settleWaiters.removeAll()
    }

    // MARK: Stopping

    func stop() {
        feed(.stop)
        stopped = true
        timer?.task.cancel()
        for link in connections.links { link.close() }
        for entry in attachWaiters.values { entry.continuation.resume(throwing: SendError.clientStopped) }
        attachWaiters.removeAll()
        receiver?.resume(returning: nil)
        receiver = nil
        releaseSettleWaiters()
        replies.failAll(SendError.clientStopped)
        requests.removeAll()
        ledger.finish()
        confirmations.continuation.finish()
    }
}
