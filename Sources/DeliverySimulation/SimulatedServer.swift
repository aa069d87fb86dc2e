import ClientProtocol
import Delivery
import Foundation
import LMDB
import Mailbox
import MessageModel
import P2PCore
import Raft

/// One simulated server: its pure ``RaftNode`` (persisting to memory), its mailbox state machine
/// (a real ``MailboxStore`` over a temporary LMDB environment) and the volatile state a crash
/// loses: client sessions and their push windows, waiting proposals, forwarded commands.
final class SimulatedServer {
    /// Who waits for a proposal's outcome.
    enum Waiter {
        case client(NodeID, request: UInt64)
        /// A client's claim (answered with a claim result, not a send result).
        case claim(NodeID, request: UInt64)
        case forward(NodeID, request: UInt64)
    }

    /// What applying committed entries did, for the simulation's bookkeeping and checks.
    struct Applied {
        let index: LogIndex
        let command: MailboxCommand
        let outcome: MailboxOutcome
        /// For a purge: the messages (not skips) it turned into skips.
        let purged: [OutboxKey]
    }

    let index: Int
    let id: NodeID
    let configuration: RaftConfiguration
    var raft: RaftNode?
    var persisted = PersistedState(hardState: HardState(), snapshot: nil, entries: [])
    let environment: Environment
    let store: MailboxStore
    let window: Int
    /// Logical milliseconds a pushed message may stay unacknowledged before the window starts over.
    let patience: UInt64

    // Volatile.
    var sessions: [NodeID: PushSession] = [:]
    var waiters: [LogIndex: (term: Term, waiter: Waiter, deadline: Int)] = [:]
    var forwards: [UInt64: (waiter: Waiter, deadline: Int)] = [:]
    var nextForward: UInt64 = 0

    /// Frames to send and what was applied, collected by the simulation after every call.
    var outgoing: [(to: NodeID, frame: SimulatedFrame)] = []
    /// The store's applied index, cached (`nil`: read it from the store).
    private var appliedIndex: UInt64?
    var applied: [Applied] = []
    var now = 0

    var isUp: Bool { raft != nil }

    init(index: Int, id: NodeID, configuration: RaftConfiguration, voters: Set<NodeID>, directory: String,
         limits: MailboxLimits, window: Int, patience: UInt64) throws {
        self.index = index
        self.id = id
        self.configuration = configuration
        self.window = window
        self.patience = patience
        var environmentConfiguration = Environment.Configuration()
        environmentConfiguration.syncOnCommit = false
        environmentConfiguration.mapSize = 1 << 20
        environment = try Environment(path: directory, configuration: environmentConfiguration)
        store = try MailboxStore(environment: environment, limits: limits)
        raft = RaftNode.bootstrap(configuration: configuration, voters: voters)
    }

    func close() {
        environment.close()
        try? FileManager.default.removeItem(atPath: environment.path)
    }

    // MARK: Crashes

    /// Loses everything volatile: Raft's in-memory state, sessions, waiting proposals.
    func crash() {
        raft = nil
        sessions = [:]
        waiters = [:]
        forwards = [:]
    }

    func restart() throws {
        appliedIndex = nil
        // A crash after persisting an installed snapshot but before loading it leaves the store behind.
        if let snapshot = persisted.snapshot, try store.applied().index < snapshot.metadata.index {
            try store.restore(snapshot: snapshot.data, index: snapshot.metadata.index, term: snapshot.metadata.term)
        }
        raft = RaftNode(configuration: configuration, restoring: persisted)
        try drive()
    }

    // MARK: Raft

    func tick() throws {
        guard raft != nil else { return }
        raft?.tick()
        try drive()
        try sweepExpired()
        for client in sessions.keys.sorted() { try push(.tick, to: client) }
        for request in forwards.keys.sorted() where (forwards[request]?.deadline ?? .max) < now {
            if let waiter = forwards.removeValue(forKey: request)?.waiter { answer(waiter, nil) }
        }
        for index in waiters.keys.sorted() where (waiters[index]?.deadline ?? .max) < now {
            if let waiter = waiters.removeValue(forKey: index)?.waiter { answer(waiter, nil) }
        }
    }

    func step(_ message: RaftMessage) throws {
        guard raft != nil else { return }
        raft?.step(message)
        try drive()
    }

    /// Carries out the node's ready as the server's driver does: persist, send, apply.
    func drive() throws {
        guard var node = raft else { return }
        let ready = node.ready()
        raft = node
        guard !ready.isEmpty else { return }
        if let snapshot = ready.snapshot {
            persisted.snapshot = snapshot
            persisted.entries.removeAll { $0.index <= snapshot.metadata.index }
        }
        if let from = ready.truncateFrom { persisted.entries.removeAll { $0.index >= from } }
        persisted.entries.append(contentsOf: ready.entries)
        if let hardState = ready.hardState { persisted.hardState = hardState }
        for message in ready.messages { outgoing.append((message.to, .raft(message))) }
        if let snapshot = ready.snapshotToApply {
            appliedIndex = nil
            try store.restore(snapshot: snapshot.data, index: snapshot.metadata.index, term: snapshot.metadata.term)
            for index in waiters.keys.sorted() where index <= snapshot.metadata.index {
                if let waiter = waiters.removeValue(forKey: index)?.waiter { answer(waiter, nil) }
            }
            for client in sessions.keys.sorted() { try push(.snapshotInstalled, to: client) }
        }
        for entry in ready.committedEntries { try apply(entry) }
        if ready.leaderChange != nil, raft?.role != .leader {
            for index in waiters.keys.sorted() {
                if let waiter = waiters.removeValue(forKey: index)?.waiter { answer(waiter, nil) }
            }
        }
    }

    private func apply(_ entry: LogEntry) throws {
        if appliedIndex == nil { appliedIndex = try store.applied().index }
        guard entry.index > appliedIndex ?? 0 else { return }
        appliedIndex = entry.index
        guard entry.kind == .normal else {
            try store.apply([MailboxStore.Entry(index: entry.index, term: entry.term, command: nil)])
            return
        }
        let command = try? MailboxCommand(decoding: entry.data)
        var purged: [OutboxKey] = []
        if case .purge(let recipient) = command {
            purged = try store.messages(for: recipient, limit: .max).filter { !$0.message.isSkip }.map { OutboxKey($0.message) }
        }
        let results = try store.apply([MailboxStore.Entry(index: entry.index, term: entry.term, command: entry.data)])
        guard let command, let outcome = results.first?.outcome else { return }
        applied.append(Applied(index: entry.index, command: command, outcome: outcome, purged: purged))
        if let waiting = waiters.removeValue(forKey: entry.index) {
            answer(waiting.waiter, waiting.term == entry.term ? outcome : nil)
        }
        switch (command, outcome) {
        case (.enqueue(let message), .stored), (.enqueue(let message), .mailboxFull):
            try push(.newMail, to: message.recipient)
        case (.acknowledge(let recipient, let messageID), let outcome):
            try push(.acknowledged(messageID), to: recipient)
            if outcome != .skipAcknowledged, sessions[messageID.sender] != nil {
                outgoing.append((messageID.sender, .push(.delivered(recipient: recipient, id: messageID))))
            }
        case (.enqueue(let message), .expired):
            try push(.newMail, to: message.recipient)
        case (.expire(let recipient, let messageID, _), .expired):
            if sessions[messageID.sender] != nil {
                outgoing.append((messageID.sender, .push(.expired(recipient: recipient, id: messageID))))
            }
        case (.purge(let recipient), _):
            // Purged messages became skips in place: what was pushed stays pushed.
            try push(.newMail, to: recipient)
        default:
            break
        }
    }

    /// Steps the push window of `client`'s session here (if it has one) and pushes what it says.
    func push(_ input: PushWindow.Input, to client: NodeID) throws {
        guard var session = sessions[client] else { return }
        let pushed = try session.step(input, client: client, store: store, now: UInt64(now) * Self.tickMillis)
        sessions[client] = session
        for message in pushed { outgoing.append((client, .push(.deliver(message)))) }
    }

    /// Logical milliseconds per tick (the push windows' clock).
    static let tickMillis: UInt64 = 10

    /// Snapshots the store at the applied index and compacts the Raft log.
    func compact() throws {
        guard let node = raft else { return }
        let snapshot = try store.snapshot()
        guard snapshot.index == node.appliedIndex, node.appliedIndex > node.snapshotIndex else { return }
        raft?.compact(snapshotData: snapshot.data)
        try drive()
    }
}
