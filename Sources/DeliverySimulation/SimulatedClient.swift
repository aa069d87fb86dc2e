import ClientProtocol
import Delivery
import MessageModel
import P2PCore

/// The slot a client's delivery core (`Delivery.ClientCore`) runs in: its durable ledger
/// (survives crashes), the core itself (volatile: gone on a crash, rebuilt from the ledger on
/// restart), the application (always waiting to receive), and the execution of the core's
/// directives one by one — a crash may fall between any two of them.
final class SimulatedClient {
    /// What executing directives did, for the simulation's network, event queue and checker.
    enum Event {
        case accepted(MailMessage)
        case handedOver(MailMessage, DeliveryPath)
        /// Recorded delivered in the ledger, then lost with a crash before the hand-over.
        case lostAtHandOver(MailMessage)
        case offeredDirectly(OutboxKey)
        /// A `send` ended: the recipient acknowledged (`expired == false`) or the message expired.
        case toldSender(OutboxKey, expired: Bool)
        /// The ledger batch is durable; its confirmation is due (unless the client crashes first).
        case persisted(batch: UInt64, prepared: [MessageID])
        case toServer(NodeID, ClientRequest)
        case toPeer(NodeID, DirectFrame)
        /// An input the core must get at the next tick (a frame that could not leave).
        case later(ClientCore.Input)
    }

    let index: Int
    let id: NodeID
    private(set) var ledger = SimulatedLedger()
    private var core: ClientCore?
    private let configuration: ClientCore.Configuration
    let bug: ClientBug?
    private var bugState = ClientBugState()
    /// Increments on every crash, so confirmations meant for an earlier life are dropped.
    private(set) var epoch = 0
    /// What this life of the client was told is reachable, and its direct links' ids.
    var reachableServers: Set<NodeID> = []
    private(set) var links: [NodeID: DirectLinkID] = [:]
    private var nextLink: UInt64 = 0
    private var requests: [UInt64: (key: OutboxKey, server: NodeID)] = [:]
    private var nextRequest: UInt64 = 0
    private var nextToken: UInt64 = 0
    /// The recipient of each `send` still waiting (a `send`'s outcome names only the message id).
    private var sendRecipients: [SendToken: NodeID] = [:]
    private var claims: [UInt64: (id: MessageID, server: NodeID)] = [:]
    /// Recorded delivered, not handed over yet (lost if the client crashes now).
    private var marked: [MessageID: MailMessage] = [:]
    /// Copies this life received, by id (the first one's path counts as the delivery's).
    private var received: [MessageID: (message: MailMessage, direct: Bool)] = [:]
    var events: [Event] = []

    var isUp: Bool { core != nil }
    var reachablePeers: Set<NodeID> { Set(links.keys) }

    /// How the application waits for messages: one at a time or in batches.
    let receiveInput: ClientCore.Input

    init(index: Int, id: NodeID, bug: ClientBug?, configuration: ClientCore.Configuration, seed: UInt64, receiveBatch: Int = 1) {
        self.index = index
        receiveInput = receiveBatch > 1 ? .receiveBatch(upTo: receiveBatch) : .receive
        self.id = id
        self.bug = bug
        self.configuration = configuration
        core = ClientCore(me: id, configuration: configuration, seed: seed)
    }

    func crash() {
        core = nil
        epoch += 1
        reachableServers = []
        links = [:]
        requests = [:]
        claims = [:]
        sendRecipients = [:]
        received = [:]
        for sequenceKey in marked.keys.sorted(by: { ($0.sender, $0.sequence) < ($1.sender, $1.sequence) }) {
            if let message = marked[sequenceKey] { events.append(.lostAtHandOver(message)) }
        }
        marked = [:]
    }

    func restart(seed: UInt64) {
        core = ClientCore(me: id, restoring: ledger.contents, configuration: configuration, seed: seed)
    }

    // MARK: Inputs

    /// The application sends `payload` to `recipient`.
    @discardableResult
    func send(to recipient: NodeID, payload: [UInt8], expiresAt: UInt64?, now: UInt64, crashHere: () -> Bool) -> Bool {
        nextToken += 1
        sendRecipients[SendToken(nextToken)] = recipient
        return step(.send(SendToken(nextToken), to: recipient, payload: payload, timeout: 2_000, expiresAt: expiresAt), now: now, crashHere: crashHere)
    }

    @discardableResult
    func claimAnswered(_ request: UInt64, _ result: ClaimResult, now: UInt64, crashHere: () -> Bool) -> Bool {
        guard let (id, server) = claims.removeValue(forKey: request) else { return false }
        return step(.claimAnswer(id, from: server, result), now: now, crashHere: crashHere)
    }

    @discardableResult
    func serverAnswered(_ request: UInt64, _ result: SendResult, now: UInt64, crashHere: () -> Bool) -> Bool {
        guard let (key, server) = requests.removeValue(forKey: request) else { return false }
        return step(.relayAnswer(key, from: server, result), now: now, crashHere: crashHere)
    }

    @discardableResult
    func directFrame(_ frame: DirectFrame, from peer: NodeID, now: UInt64, crashHere: () -> Bool) -> Bool {
        guard let link = links[peer] else { return false }
        switch frame {
        case .message(let message):
            guard message.id.sender == peer else { return false }
            return step(.directMessage(message, link: link), now: now, crashHere: crashHere)
        case .acknowledge(let messageID):
            return step(.directAcknowledgement(from: peer, sequence: messageID.sequence), now: now, crashHere: crashHere)
        }
    }

    /// A direct link to `peer` came up (with a new id) or went down.
    @discardableResult
    func setPeer(_ peer: NodeID, reachable: Bool, now: UInt64, crashHere: () -> Bool) -> Bool {
        if reachable {
            nextLink += 1
            links[peer] = DirectLinkID(nextLink)
        } else {
            links[peer] = nil
        }
        return step(.directPeers(Set(links.keys)), now: now, crashHere: crashHere)
    }

    /// Gives the core one input (and the application's next `receive` after each hand-over)
    /// and carries out its directives in order. `crashHere` is asked before each directive:
    /// `true` kills the client right there (the rest is never done). Returns whether it crashed.
    @discardableResult
    func step(_ input: ClientCore.Input, now: UInt64, crashHere: () -> Bool) -> Bool {
        var inputs = [input]
        while !inputs.isEmpty {
            let next = inputs.removeFirst()
            guard var current = core else { return false }
            remember(next)
            let directives = current.step(next, now: now)
            core = current
            let actions = bug?.rewrite(directives, for: next, ledger: ledger, state: &bugState)
                ?? directives.map(ClientAction.run)
            for action in actions {
                if crashHere() {
                    crash()
                    return true
                }
                if execute(action) { inputs.append(receiveInput) }
            }
        }
        return false
    }

    private func remember(_ input: ClientCore.Input) {
        switch input {
        case .relayedMessage(let message, _) where received[message.id] == nil:
            received[message.id] = (message, false)
        case .directMessage(let message, _) where received[message.id] == nil:
            received[message.id] = (message, true)
        case .claimAnswer(let id, _, .expired), .claimAnswer(let id, _, .skipped):
            // The core passes over it: what it records delivered next is a skip.
            if let copy = received[id] { received[id] = (copy.message.skip(), copy.direct) }
        default:
            break
        }
    }

    /// Carries out one action; returns whether the application was handed a message.
    private func execute(_ action: ClientAction) -> Bool {
        switch action {
        case .handOverEarly(let message):
            events.append(.handedOver(message, .relay))
            return false
        case .swallowHandOver(let message):
            // The application had it early; it waits for the next one.
            marked[message.id] = nil
            return true
        case .run(let directive):
            return execute(directive)
        }
    }

    private func execute(_ directive: ClientCore.Directive) -> Bool {
        switch directive {
        case .persist(let batch):
            let prepared = ledger.apply(batch, sender: id)
            var ids = prepared.makeIterator()
            for operation in batch.operations {
                switch operation {
                case .prepare(let recipient, let payload, let expiresAt):
                    if let messageID = ids.next() {
                        events.append(.accepted(MailMessage(id: messageID, recipient: recipient, payload: payload, enqueuedAtMillis: 0, expiresAtMillis: expiresAt)))
                    }
                case .markDelivered(let messageID):
                    if let copy = received[messageID], !copy.message.isSkip { marked[messageID] = copy.message }
                case .resolve, .oweSkip:
                    break
                }
            }
            events.append(.persisted(batch: batch.number, prepared: prepared))
        case .sendDirect(let message):
            if links[message.recipient] != nil {
                events.append(.offeredDirectly(OutboxKey(message)))
                events.append(.toPeer(message.recipient, .message(message)))
            } else {
                events.append(.later(.directSendFailed(OutboxKey(message))))
            }
        case .relay(let message, let server):
            if reachableServers.contains(server) {
                nextRequest += 1
                requests[nextRequest] = (OutboxKey(message), server)
                events.append(.toServer(server, .send(request: nextRequest, message: message)))
            } else {
                events.append(.later(.relayFailed(OutboxKey(message), server: server)))
            }
        case .claim(let messageID, let server):
            if reachableServers.contains(server) {
                nextRequest += 1
                claims[nextRequest] = (messageID, server)
                events.append(.toServer(server, .claim(request: nextRequest, messageID)))
            } else {
                events.append(.later(.claimAnswer(messageID, from: server, nil)))
            }
        case .subscribe(let server):
            events.append(.toServer(server, .subscribe(true)))
        case .acknowledgeRelayed(let messageID, let server):
            events.append(.toServer(server, .acknowledge(messageID)))
        case .acknowledgeDirect(let messageID, let link):
            if let peer = links.first(where: { $0.value == link })?.key { events.append(.toPeer(peer, .acknowledge(messageID))) }
        case .handOver(let message):
            marked[message.id] = nil
            events.append(.handedOver(message, received[message.id]?.direct == true ? .direct : .relay))
            return true
        case .finishSend(let token, let result):
            // The checker learns refusals from the state machine; it checks what senders are
            // told about delivery and expiry.
            guard let recipient = sendRecipients.removeValue(forKey: token) else { break }
            switch result {
            case .success(let messageID): events.append(.toldSender(OutboxKey(recipient: recipient, id: messageID), expired: false))
            case .failure(.expired(let messageID)): events.append(.toldSender(OutboxKey(recipient: recipient, id: messageID), expired: true))
            case .failure: break
            }
        }
        return false
    }

    /// Whether everything this client owes has left its ledger.
    var isDrained: Bool { ledger.outbox.isEmpty && marked.isEmpty }
}
