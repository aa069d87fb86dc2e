import ClientProtocol
import Delivery
import Foundation
import Mailbox
import MessageModel
import P2PCore
import Raft

/// A deterministic, seeded simulation of the whole delivery system in one thread: servers
/// (pure Raft + the real mailbox state machine on LMDB), clients (a delivery core in a slot
/// with a durable ledger), direct links and the relay, under loss, duplication, reordering,
/// delay, partitions, crashes, purges and small mailbox limits. The delivery guarantees are
/// checked at every hand-over and, after a quiet period in which faults heal and everything
/// drains, at the end. The same options always produce the same run, byte for byte.
public final class DeliverySimulation {
    enum Event {
        case frame(from: Endpoint, to: Endpoint, generation: Int, SimulatedFrame)
        /// An input for a client that comes later (a ledger confirmation, a failed frame).
        case input(client: Int, epoch: Int, ClientCore.Input)
    }

    public let options: DeliverySimulationOptions
    var rng: SplitMix64
    var servers: [SimulatedServer] = []
    var clients: [SimulatedClient] = []
    var endpoints: [NodeID: Endpoint] = [:]
    var names: [NodeID: String] = [:]
    var queue = DeadlineQueue<Event>()
    var now = 0
    var faultsEnabled = true
    /// Unordered pairs of endpoints that cannot reach each other.
    var blocked: Set<[Endpoint]> = []
    /// Unordered pairs of clients whose direct link is up.
    var directLinks: Set<[Int]> = []
    /// Bumped whenever a pair's link dies (a crash of either end, a partition): frames of an
    /// older link are never delivered on a newer one.
    var linkDeaths: [Endpoint: Int] = [:]
    var pairDeaths: [[Endpoint]: Int] = [:]
    /// Client links that broke since the last reachability update (they come back after it).
    var deadLinks: Set<[Endpoint]> = []
    /// Per directed stream, when its last frame arrives (later frames never overtake it).
    var streamTail: [[Endpoint]: Int] = [:]
    var checker = DeliveryChecker()
    var messageCounter = 0
    /// Every event of the run when `options.verbose` (read it after `run()`, also after a failure).
    public private(set) var trace: [String] = []
    /// Logical milliseconds per tick (the cores' clocks).
    static let tickMillis: UInt64 = 10

    public init(options: DeliverySimulationOptions) {
        self.options = options
        rng = SplitMix64(seed: options.seed &* 0x9E37_79B9_7F4A_7C15 ^ 0xD1B5_4A32_D192_ED03)
    }

    /// Runs the whole simulation; throws the first violated guarantee.
    public func run() throws(DeliveryViolation) -> DeliverySummary {
        defer { for server in servers { server.close() } }
        do {
            try setUp()
            for _ in 0..<options.steps {
                try advance()
                try injectFaults()
            }
            try quietPeriod()
            try checkEnd()
        } catch let failure as DeliveryChecker.Failure {
            throw violation(failure.guarantee, failure.detail)
        } catch let violation as DeliveryViolation {
            throw violation
        } catch {
            throw violation("simulator integrity", "\(error)")
        }
        return checker.summary
    }

    // MARK: - Setting up

    private func setUp() throws {
        let serverCount = options.servers ?? 3 + Int(rng.next() % 3)
        let clientCount = options.clients ?? 3 + Int(rng.next() % 4)
        checker.setShape(servers: serverCount, clients: clientCount)
        let quota = 1 + Int(rng.next() % 4)
        let total = 1500 + Int(rng.next() % 3000)
        let limits = options.limits ?? MailboxLimits(
            maximumMessages: 2 + Int(rng.next() % 6), maximumBytes: 200 + Int(rng.next() % 400),
            maximumMessagesPerSender: options.tightQuotas ? quota : 10_000, maximumTotalBytes: options.tightQuotas ? total : 1 << 30
        )
        let window = 2 + Int(rng.next() % 6)
        let serverIDs = (0..<serverCount).map { _ in randomID() }
        for (index, id) in serverIDs.enumerated() {
            var configuration = RaftConfiguration(id: id, randomSeed: rng.next())
            configuration.electionTicks = 10
            configuration.maxEntriesPerMessage = 16
            // A fresh directory per run (runs of one seed may go on side by side in one process).
            var template = Array("\(options.temporaryDirectory)/delivery-sim-\(options.seed)-\(index)-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else {
                throw DeliveryChecker.Failure(guarantee: "simulator integrity", detail: "no temporary directory in \(options.temporaryDirectory)")
            }
            let directory = String(cString: made)
            servers.append(try SimulatedServer(
                index: index, id: id, configuration: configuration, voters: Set(serverIDs), directory: directory,
                limits: limits, window: window, patience: 400
            ))
            endpoints[id] = .server(index)
            names[id] = "s\(index)"
        }
        for index in 0..<clientCount {
            let id = randomID()
            endpoints[id] = .client(index)
            names[id] = "c\(index)"
            clients.append(SimulatedClient(index: index, id: id, bug: options.bug, configuration: Self.clientConfiguration, seed: rng.next(), receiveBatch: options.receiveBatch))
        }
        checker.names = names
        for client in clients { try drive(client) { $0.step($0.receiveInput, now: millis, crashHere: $1) } }
        log("servers=\(serverCount) clients=\(clientCount) limits=\(limits.maximumMessages)msg/\(limits.maximumBytes)B/"
            + "\(limits.maximumMessagesPerSender)per-sender/\(limits.maximumTotalBytes)B-total window=\(window)")
        for server in servers { try server.drive(); try flush(server) }
        // Every client registers once (as its first hello would) before traffic starts.
        // Proposed again every 50 ticks until every server has them (a leader may lose its
        // term before they commit); registering is idempotent.
        var proposedAt: Int?
        for tick in 0..<1000 {
            try advance(sending: false)
            if proposedAt.map({ tick - $0 >= 50 }) ?? true, let leader = servers.first(where: { $0.raft?.role == .leader }) {
                for client in clients {
                    _ = try leader.admin(.register(ClientRecord(id: client.id, publicKey: Array(client.id.bytes))))
                }
                try flush(leader)
                proposedAt = tick
            }
            if proposedAt != nil, servers.allSatisfy({ server in clients.allSatisfy { (try? server.store.client($0.id)) != nil } }) {
                log("all clients registered")
                return
            }
        }
        throw DeliveryChecker.Failure(guarantee: "liveness", detail: "the clients could not be registered")
    }

    // MARK: - One tick

    func advance(sending: Bool = true) throws {
        now += 1
        while let event = queue.popDue(UInt64(now)) { try deliver(event) }
        for server in servers where server.isUp {
            server.now = now
            try server.tick()
            try flush(server)
        }
        try updateReachability()
        for client in clients where client.isUp {
            try drive(client) { $0.step(.tick, now: millis, crashHere: $1) }
            if sending, faultsEnabled, chance(options.sendRate), client.isUp { try applicationSend(client) }
        }
    }

    private func applicationSend(_ client: SimulatedClient) throws {
        let others = clients.filter { $0.index != client.index }
        let recipient = others[Int(rng.next() % UInt64(others.count))]
        messageCounter += 1
        var payload = Array("m\(messageCounter):\(client.index)→\(recipient.index)".utf8)
        payload += (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        checker.sent()
        // Some messages get a time to live (of 50 ms to 3 s: some expire while the recipient is
        // away or partitioned, some just before or after their claim).
        let expiresAt = options.expiryRate > 0 && chance(options.expiryRate) ? millis + 50 + rng.next() % 2_950 : nil
        log("\(names[client.id] ?? "?") app send #\(messageCounter) to \(names[recipient.id] ?? "?") (\(payload.count) B)"
            + (expiresAt.map { " expiring at \($0) ms" } ?? ""))
        try drive(client) { $0.send(to: recipient.id, payload: payload, expiresAt: expiresAt, now: millis, crashHere: $1) }
    }

    private func deliver(_ event: Event) throws {
        switch event {
        case .input(let index, let epoch, let input):
            let client = clients[index]
            guard client.isUp, client.epoch == epoch else { return }
            try drive(client) { $0.step(input, now: millis, crashHere: $1) }
        case .frame(let from, let to, let generation, let frame):
            guard generation == self.generation(from, to), !blocked.contains(pair(from, to)), !deadLinks.contains(pair(from, to)) else { return }
            switch (to, frame) {
            case (.server(let index), .raft(let message)):
                try servers[index].step(message)
                try flush(servers[index])
            case (.server(let index), .server(let serverFrame)):
                guard case .server(let sender) = from else { return }
                try servers[index].handle(serverFrame, from: servers[sender].id)
                try flush(servers[index])
            case (.server(let index), .request(let request)):
                guard case .client(let sender) = from, clients[sender].reachableServers.contains(servers[index].id) else { return }
                try servers[index].handle(request, from: clients[sender].id)
                try flush(servers[index])
            case (.client(let index), .push(let push)):
                guard case .server(let sender) = from, clients[index].reachableServers.contains(servers[sender].id) else { return }
                let server = servers[sender].id
                switch push {
                case .sendResult(let request, let result):
                    log("c\(index) request \(request) at s\(sender): \(result)")
                    try drive(clients[index]) { $0.serverAnswered(request, result, now: millis, crashHere: $1) }
                case .deliver(let message):
                    log("s\(sender) pushes \(checker.describe(OutboxKey(message)))\(message.isSkip ? " (skip)" : "") to c\(index)")
                    try drive(clients[index]) { $0.step(.relayedMessage(message, from: server), now: millis, crashHere: $1) }
                case .delivered(let recipient, let id):
                    try drive(clients[index]) { $0.step(.receipt(recipient: recipient, id: id), now: millis, crashHere: $1) }
                case .expired(let recipient, let id):
                    try drive(clients[index]) { $0.step(.expiryReceipt(recipient: recipient, id: id), now: millis, crashHere: $1) }
                case .claimResult(let request, let result):
                    log("c\(index) claim \(request) at s\(sender): \(result)")
                    try drive(clients[index]) { $0.claimAnswered(request, result, now: millis, crashHere: $1) }
                default:
                    return
                }
            case (.client(let index), .direct(let directFrame)):
                guard case .client(let sender) = from, clients[index].reachablePeers.contains(clients[sender].id) else { return }
                let peer = clients[sender].id
                try drive(clients[index]) { $0.directFrame(directFrame, from: peer, now: millis, crashHere: $1) }
            default:
                return
            }
        }
    }

    // MARK: - Driving clients and servers

    /// The cores' configuration, in logical milliseconds (a tick is ``tickMillis``).
    static let clientConfiguration: ClientCore.Configuration = {
        var configuration = ClientCore.Configuration()
        configuration.attemptTimeout = 150
        configuration.firstRetry = 50
        configuration.longestRetry = 500
        configuration.longestSkipRetry = 1_500
        configuration.earlyLimit = 32
        return configuration
    }()

    var millis: UInt64 { UInt64(now) * Self.tickMillis }

    /// Runs `body` on a live client (it may crash between directives), then carries out what
    /// the client did: frames onto the network, confirmations into the event queue, hand-overs
    /// to the checker.
    func drive(_ client: SimulatedClient, _ body: (SimulatedClient, () -> Bool) -> Bool) throws {
        guard client.isUp else { return }
        let crashed = body(client) { self.faultsEnabled && self.chance(self.options.crashBetweenDirectivesRate) }
        try process(client)
        if crashed { clientCrashed(client, between: true) }
    }

    func process(_ client: SimulatedClient) throws {
        let events = client.events
        client.events = []
        let name = names[client.id] ?? "?"
        for event in events {
            switch event {
            case .accepted(let message):
                checker.accepted(message)
                log("\(name) accepted \(checker.describe(OutboxKey(message)))")
            case .handedOver(let message, let path):
                log("\(name) hands over \(checker.describe(OutboxKey(message))) (first copy \(path))")
                try checker.handedOver(message, to: client.id, path: path)
            case .lostAtHandOver(let message):
                log("\(name) lost \(checker.describe(OutboxKey(message))) between recording and handing it over")
                try checker.lostAtHandOver(message, strict: options.strictHandOver)
            case .offeredDirectly(let key):
                checker.offeredDirectly(key)
            case .toldSender(let key, let expired):
                log("\(name) is told \(checker.describe(key)) \(expired ? "expired" : "delivered")")
                try checker.senderTold(key, expired: expired)
            case .persisted(let batch, let prepared):
                queue.schedule(.input(client: client.index, epoch: client.epoch, .persisted(batch: batch, prepared: prepared)), at: UInt64(now + 1))
            case .later(let input):
                queue.schedule(.input(client: client.index, epoch: client.epoch, input), at: UInt64(now + 1))
            case .toServer(let server, .send(let request, let message)):
                log("\(name) relays \(checker.describe(OutboxKey(message)))\(message.isSkip ? " (skip)" : "") via \(names[server] ?? "?") (request \(request))")
                if let to = endpoints[server] { send(.request(.send(request: request, message: message)), from: .client(client.index), to: to) }
            case .toServer(let server, let request):
                if case .subscribe = request { log("\(name) subscribes at \(names[server] ?? "?")") }
                if let to = endpoints[server] { send(.request(request), from: .client(client.index), to: to) }
            case .toPeer(let peer, let frame):
                guard let to = endpoints[peer], case .client(let other) = to, directLinks.contains(clientPair(client.index, other)) else { continue }
                send(.direct(frame), from: .client(client.index), to: to)
            }
        }
    }

    /// Takes what a server produced: frames go on the network, applied entries to the checker.
    func flush(_ server: SimulatedServer) throws {
        let outgoing = server.outgoing
        let applied = server.applied
        server.outgoing = []
        server.applied = []
        for entry in applied { try checker.applied(entry) }
        for (to, frame) in outgoing {
            guard let endpoint = endpoints[to] else { continue }
            send(frame, from: .server(server.index), to: endpoint)
        }
    }

    /// Puts a frame on the network. Between servers (datagrams, as Raft tolerates) a frame may
    /// be dropped, duplicated, delayed and so reordered. A link of a client is a stream (TCP or
    /// a KCP tunnel): delayed but in order, and a loss kills the link — its frames in flight are
    /// gone, both ends learn it, and the link comes back at the next tick.
    func send(_ frame: SimulatedFrame, from: Endpoint, to: Endpoint) {
        let link = pair(from, to)
        guard !blocked.contains(link), !deadLinks.contains(link) else { return }
        let isStream: Bool
        if case .server = from, case .server = to { isStream = false } else { isStream = true }
        if faultsEnabled && chance(options.dropRate) {
            if isStream {
                deadLinks.insert(link)
                pairDeaths[link, default: 0] += 1
                log("link \(link[0])-\(link[1]) breaks")
            }
            return
        }
        let copies = !isStream && faultsEnabled && chance(options.duplicateRate) ? 2 : 1
        for _ in 0..<copies {
            var at = now + 1 + Int(rng.next() % UInt64(max(1, options.maxDelay)))
            if isStream {
                at = max(at, streamTail[[from, to]] ?? 0)
                streamTail[[from, to]] = at
            }
            queue.schedule(.frame(from: from, to: to, generation: generation(from, to), frame), at: UInt64(at))
        }
    }

    // MARK: - Helpers

    func generation(_ a: Endpoint, _ b: Endpoint) -> Int {
        (linkDeaths[a] ?? 0) + (linkDeaths[b] ?? 0) + (pairDeaths[pair(a, b)] ?? 0)
    }

    func pair(_ a: Endpoint, _ b: Endpoint) -> [Endpoint] { a < b ? [a, b] : [b, a] }
    func clientPair(_ a: Int, _ b: Int) -> [Int] { a < b ? [a, b] : [b, a] }

    func chance(_ probability: Double) -> Bool {
        Double(rng.next() % 1_000_000) < probability * 1_000_000
    }

    private func randomID() -> NodeID {
        var bytes: [UInt8] = []
        for _ in 0..<2 { withUnsafeBytes(of: rng.next()) { bytes.append(contentsOf: $0) } }
        return NodeID(bytes: bytes) ?? NodeID.random()
    }

    func log(_ line: @autoclosure () -> String) {
        if options.verbose { trace.append("t=\(now) \(line())") }
    }

    func violation(_ guarantee: String, _ detail: String) -> DeliveryViolation {
        log("VIOLATION \(guarantee): \(detail)")
        return DeliveryViolation(seed: options.seed, step: now, guarantee: guarantee, detail: detail, replay: options.arguments)
    }
}
