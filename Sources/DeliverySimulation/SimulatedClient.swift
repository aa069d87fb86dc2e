import ClientProtocol
import Mailbox
import P2PCore

/// The slot a client core runs in: its durable ledger (survives crashes), the core itself
/// (volatile: gone on a crash, rebuilt from the ledger on restart), and the execution of its
/// directives one by one — a crash may fall between any two of them.
final class SimulatedClient {
    /// What executing directives did, for the simulation's network and checker.
    enum Event {
        case accepted(MailMessage)
        case handedOver(MailMessage, DeliveryPath)
        case offeredDirectly(MessageKey)
        case fate(MessageKey, SendFate)
        /// A ledger write is durable; its confirmation is due (unless the client crashes first).
        case written(token: UInt64)
        case toServer(NodeID, ClientRequest)
        case toPeer(NodeID, DirectFrame)
    }

    let index: Int
    let id: NodeID
    private(set) var ledger = ClientLedger()
    private var core: (any ClientCore)?
    private let makeCore: (NodeID, ClientLedger, UInt64) -> any ClientCore
    let bug: ClientBug?
    private var bugState = ClientBugState()
    /// Increments on every crash, so confirmations meant for an earlier life are dropped.
    private(set) var epoch = 0
    /// What this life of the client was told is reachable.
    var reachableServers: Set<NodeID> = []
    var reachablePeers: Set<NodeID> = []
    var events: [Event] = []

    var isUp: Bool { core != nil }

    init(index: Int, id: NodeID, bug: ClientBug?, makeCore: @escaping (NodeID, ClientLedger, UInt64) -> any ClientCore) {
        self.index = index
        self.id = id
        self.bug = bug
        self.makeCore = makeCore
        core = makeCore(id, ledger, 0)
    }

    func crash() {
        core = nil
        epoch += 1
        reachableServers = []
        reachablePeers = []
    }

    func restart(seed: UInt64) {
        core = makeCore(id, ledger, seed)
    }

    /// Gives the core one input and carries out its directives in order. `crashHere` is asked
    /// before each directive: `true` kills the client right there (the rest is never done).
    /// Returns whether the client crashed.
    @discardableResult
    func handle(_ input: ClientInput, crashHere: () -> Bool) -> Bool {
        guard var current = core else { return false }
        let directives = current.handle(input)
        core = current
        let actions = bug?.rewrite(directives, for: input, ledger: ledger, state: &bugState) ?? directives.map(ClientAction.run)
        for action in actions {
            if crashHere() {
                crash()
                return true
            }
            execute(action)
        }
        return false
    }

    private func execute(_ action: ClientAction) {
        switch action {
        case .discardFromInbox(let messageID):
            ledger.inbox.removeAll { $0.id == messageID }
        case .run(.write(let write, let token)):
            ledger.apply(write)
            if case .accept(let message) = write { events.append(.accepted(message)) }
            events.append(.written(token: token))
        case .run(.handOver(let message, let path)):
            ledger.inbox.removeAll { $0.id == message.id }
            events.append(.handedOver(message, path))
        case .run(.toServer(let server, let request)):
            events.append(.toServer(server, request))
        case .run(.toPeer(let peer, let frame)):
            if case .message(let message) = frame { events.append(.offeredDirectly(MessageKey(message))) }
            events.append(.toPeer(peer, frame))
        case .run(.fate(let messageID, let fate)):
            events.append(.fate(messageID, fate))
        }
    }

    /// Whether everything this client owes has left its ledger (outbox and inbox empty).
    var isDrained: Bool { ledger.outbox.isEmpty && ledger.inbox.isEmpty }
}
