import LMDB
import Mailbox
import P2PCore
import Synchronization

/// The LMDB side of a replica whose Raft log is made durable by a journal: each ready's log
/// writes and applied entries, committed atomically (one device flush, no metadata sync) on the
/// storage queue while the replica goes on journaling the next readies.
///
/// Group commit: the jobs queued while one transaction commits share the next one, so the
/// mailboxes cost one flush per batch of readies rather than one per ready. Jobs commit in the
/// order queued, and each one's `committed` runs, in that order, on the storage queue.
///
/// A job that only writes the log (``enqueue(_:hold:)`` with `hold`) needs no commit of its own:
/// the journal made it durable and nothing waits for it. It waits for the next job that applies
/// entries, or for ``holdDelay`` when none comes, and shares its commit (and its flush): one
/// LMDB commit per Raft round instead of two.
final class ApplyQueue: Sendable {
    /// One ready's share of a transaction.
    struct Job: Sendable {
        /// Writes the ready's part; returns what applying its entries gave. May run more than
        /// once (in a new transaction) if LMDB's map had to grow.
        let write: @Sendable (borrowing WriteTransaction) throws -> [MailboxStore.Applied]
        /// Once the transaction committed (or failed).
        let committed: @Sendable (Result<[MailboxStore.Applied], any Error>) -> Void
    }

    /// How long a held job waits for another one to share a commit with.
    static let holdDelay = Duration.milliseconds(20)

    private let environment: Environment
    private let storage: StorageQueue
    private let metrics: ReplicaMetrics
    private let state = Mutex(GroupCommitState<Job>())

    init(environment: Environment, storage: StorageQueue, metrics: ReplicaMetrics) {
        self.environment = environment
        self.storage = storage
        self.metrics = metrics
    }

    /// Queues `job` after every job queued before it; with `hold`, its commit may wait (see
    /// the type's discussion).
    func enqueue(_ job: Job, hold: Bool = false) {
        switch state.withLock({ $0.enqueue(job, hold: hold) }) {
        case .none: break
        case .now: storage.enqueue { self.drain() }
        case .afterHoldDelay: storage.enqueue(after: Self.holdDelay) { self.drainHeld() }
        }
    }

    /// Commits the held jobs now (someone waits for them).
    func commitHeld() {
        if state.withLock({ $0.claimHeld(fromTimer: false) }) { storage.enqueue { self.drain() } }
    }

    /// On the storage queue: commits the held jobs, unless a drain runs or ran meanwhile.
    private func drainHeld() {
        if state.withLock({ $0.claimHeld(fromTimer: true) }) { drain() }
    }

    /// On the storage queue: commits what is queued, a transaction at a time, until nothing is.
    private func drain() {
        while true {
            let jobs = state.withLock { $0.takeQueued() }
            guard !jobs.isEmpty else { return }
            let environment = self.environment
            let result = Result { () throws -> [[MailboxStore.Applied]] in
                try metrics.timingSync {
                    try environment.write(.atomic) { txn in try jobs.map { try $0.write(txn) } }
                }
            }
            switch result {
            case .success(let outcomes):
                for (job, outcome) in zip(jobs, outcomes) { job.committed(.success(outcome)) }
            case .failure(let error):
                for job in jobs { job.committed(.failure(error)) }
            }
        }
    }
}
