import ClientProtocol
import Foundation
import Mailbox
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
        case written(client: Int, epoch: Int, token: UInt64)
    }

    public let options: DeliverySimulationOptions
    var rng: SplitMix64
    var servers: [SimulatedServer] = []
    var clients: [SimulatedClient] = []
    var endpoints: [NodeID: Endpoint] = [:]
    var names: [NodeID: String] = [:]
    var queue = EventQueue<Event>()
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
    var checker = DeliveryChecker()
    var messageCounter = 0
    /// Every event of the run when `options.verbose` (read it after `run()`, also after a failure).
    public private(set) var trace: [String] = []
    let makeCore: (NodeID, ClientLedger, UInt64) -> any ClientCore

    public convenience init(options: DeliverySimulationOptions) {
        self.init(options: options) { id, ledger, seed in ReferenceClient(id: id, ledger: ledger, seed: seed) }
    }

    init(options: DeliverySimulationOptions, makeCore: @escaping (NodeID, ClientLedger, UInt64) -> any ClientCore) {
        self.options = options
        self.makeCore = makeCore
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
        let limits = options.limits ?? MailboxLimits(
            maximumMessages: 2 + Int(rng.next() % 6), maximumBytes: 200 + Int(rng.next() % 400),
            maximumMessagesPerSender: 1 + Int(rng.next() % 4), maximumTotalBytes: 1500 + Int(rng.next() % 3000)
        )
        let window = 2 + Int(rng.next() % 6)
        let serverIDs = (0..<serverCount).map { _ in randomID() }
        for (index, id) in serverIDs.enumerated() {
            var configuration = RaftConfiguration(id: id, randomSeed: rng.next())
            configuration.electionTicks = 10
            configuration.maxEntriesPerMessage = 16
            let directory = "\(options.temporaryDirectory)/delivery-sim-\(ProcessInfo.processInfo.processIdentifier)-\(options.seed)-\(index)"
            try? FileManager.default.removeItem(atPath: directory)
            servers.append(try SimulatedServer(
                index: index, id: id, configuration: configuration, voters: Set(serverIDs), directory: directory,
                limits: limits, window: window, patience: 40
            ))
            endpoints[id] = .server(index)
            names[id] = "s\(index)"
        }
        for index in 0..<clientCount {
            let id = randomID()
            endpoints[id] = .client(index)
            names[id] = "c\(index)"
            clients.append(SimulatedClient(index: index, id: id, bug: options.bug, makeCore: makeCore))
        }
        checker.names = names
        log("servers=\(serverCount) clients=\(clientCount) limits=\(limits.maximumMessages)msg/\(limits.maximumBytes)B/"
            + "\(limits.maximumMessagesPerSender)per-sender/\(limits.maximumTotalBytes)B-total window=\(window)")
        for server in servers { try server.drive(); flush(server) }
        // Every client registers once (as its first hello would) before traffic starts.
        var registered = false
        for _ in 0..<400 {
            try advance(sending: false)
            if !registered, let leader = servers.first(where: { $0.raft?.role == .leader }) {
                for client in clients {
                    _ = try leader.admin(.register(ClientRecord(id: client.id, publicKey: Array(client.id.bytes))))
                }
                flush(leader)
                registered = true
            }
            if registered, servers.allSatisfy({ server in clients.allSatisfy { (try? server.store.client($0.id)) != nil } }) {
                log("all clients registered")
                return
            }
        }
        throw DeliveryChecker.Failure(guarantee: "liveness", detail: "the clients could not be registered")
    }

    // MARK: - One tick

    func advance(sending: Bool = true) throws {
        now += 1
        while let event = queue.popDue(at: now) { try deliver(event) }
        for server in servers where server.isUp {
            server.now = now
            try server.tick()
            flush(server)
        }
        updateReachability()
        for client in clients where client.isUp {
            try handle(client, .tick(now: now))
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
        log("\(names[client.id] ?? "?") app send #\(messageCounter) to \(names[recipient.id] ?? "?") (\(payload.count) B)")
        try handle(client, .send(recipient: recipient.id, payload: payload))
    }

    private func deliver(_ event: Event) throws {
        switch event {
        case .written(let index, let epoch, let token):
            let client = clients[index]
            guard client.isUp, client.epoch == epoch else { return }
            try handle(client, .written(token: token))
        case .frame(let from, let to, let generation, let frame):
            guard generation == self.generation(from, to), !blocked.contains(pair(from, to)) else { return }
            switch (to, frame) {
            case (.server(let index), .raft(let message)):
                try servers[index].step(message)
                flush(servers[index])
            case (.server(let index), .server(let serverFrame)):
                guard case .server(let sender) = from else { return }
                try servers[index].handle(serverFrame, from: servers[sender].id)
                flush(servers[index])
            case (.server(let index), .request(let request)):
                guard case .client(let sender) = from, clients[sender].reachableServers.contains(servers[index].id) else { return }
                try servers[index].handle(request, from: clients[sender].id)
                flush(servers[index])
            case (.client(let index), .push(let push)):
                guard case .server(let sender) = from, clients[index].reachableServers.contains(servers[sender].id) else { return }
                if case .sendResult(let request, let result) = push { log("c\(index) request \(request) at s\(sender): \(result)") }
                try handle(clients[index], .fromServer(servers[sender].id, push))
            case (.client(let index), .direct(let directFrame)):
                guard case .client(let sender) = from, clients[index].reachablePeers.contains(clients[sender].id) else { return }
                try handle(clients[index], .fromPeer(clients[sender].id, directFrame))
            default:
                return
            }
        }
    }

    // MARK: - Driving clients and servers

    func handle(_ client: SimulatedClient, _ input: ClientInput) throws {
        guard client.isUp else { return }
        let crashed = client.handle(input) { faultsEnabled && chance(options.crashBetweenDirectivesRate) }
        let events = client.events
        client.events = []
        for event in events {
            switch event {
            case .accepted(let message):
                checker.accepted(message)
                log("\(names[client.id] ?? "?") accepted \(checker.describe(MessageKey(message)))")
            case .handedOver(let message, let path):
                log("\(names[client.id] ?? "?") hands over \(checker.describe(MessageKey(message))) via \(describe(path))")
                try checker.handedOver(message, to: client.id, path: path)
            case .offeredDirectly(let id):
                checker.offeredDirectly(id)
            case .fate(let id, let fate):
                log("\(names[client.id] ?? "?") fate of \(checker.describe(id)): \(fate)")
                checker.fate(id, fate)
            case .written(let token):
                queue.schedule(.written(client: client.index, epoch: client.epoch, token: token), at: now + 1)
            case .toServer(let server, .send(let request, let message)):
                log("\(names[client.id] ?? "?") relays \(checker.describe(MessageKey(message)))\(message.isSkip ? " (skip)" : "") via \(names[server] ?? "?") (request \(request))")
                if let to = endpoints[server] { send(.request(.send(request: request, message: message)), from: .client(client.index), to: to) }
            case .toServer(let server, let request):
                if let to = endpoints[server] { send(.request(request), from: .client(client.index), to: to) }
            case .toPeer(let peer, let frame):
                guard let to = endpoints[peer], case .client(let other) = to, directLinks.contains(clientPair(client.index, other)) else { continue }
                send(.direct(frame), from: .client(client.index), to: to)
            }
        }
        if crashed { clientCrashed(client, between: true) }
    }

    /// Takes what a server produced: frames go on the network, applied entries to the checker.
    func flush(_ server: SimulatedServer) {
        let outgoing = server.outgoing
        let applied = server.applied
        server.outgoing = []
        server.applied = []
        for entry in applied { checker.applied(entry) }
        for (to, frame) in outgoing {
            guard let endpoint = endpoints[to] else { continue }
            send(frame, from: .server(server.index), to: endpoint)
        }
    }

    /// Puts a frame on the network: it may be dropped, duplicated, delayed (and so reordered).
    func send(_ frame: SimulatedFrame, from: Endpoint, to: Endpoint) {
        guard !blocked.contains(pair(from, to)) else { return }
        if faultsEnabled && chance(options.dropRate) { return }
        let copies = faultsEnabled && chance(options.duplicateRate) ? 2 : 1
        for _ in 0..<copies {
            let delay = 1 + Int(rng.next() % UInt64(max(1, options.maxDelay)))
            queue.schedule(.frame(from: from, to: to, generation: generation(from, to), frame), at: now + delay)
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

    func describe(_ path: DeliveryPath) -> String {
        switch path {
        case .direct(let peer): "direct from \(names[peer] ?? "?")"
        case .relay(let server): "relay \(names[server] ?? "?")"
        }
    }

    func log(_ line: @autoclosure () -> String) {
        if options.verbose { trace.append("t=\(now) \(line())") }
    }

    func violation(_ guarantee: String, _ detail: String) -> DeliveryViolation {
        log("VIOLATION \(guarantee): \(detail)")
        return DeliveryViolation(seed: options.seed, step: now, guarantee: guarantee, detail: detail)
    }
}
