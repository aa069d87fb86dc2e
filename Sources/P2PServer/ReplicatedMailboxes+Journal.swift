import LMDB
import Logging
import Mailbox
import P2PCore
import Raft
import RaftStorage
import Synchronization

/// Readies whose log writes are made durable by a journal (one write, one device flush) rather
/// than by a durable LMDB transaction (two): the messages that wait for persistence leave, and
/// the node hears its entries are durable, once the journal record is; the ready's log writes and
/// applied entries then go to LMDB atomically on the storage queue (``ApplyQueue``, which commits
/// the readies queued meanwhile together), while the replica journals the next readies. A crash
/// may undo those LMDB commits: the journal's records are redone when the replica opens, and
/// the entries they hold applied again from the log.
///
/// What follows a ready (``finishReady(_:appliedIndex:numberedBefore:outcomes:proposals:handedOver:)``)
/// runs once LMDB holds it, in ready order. A ready with a snapshot is not journaled: it waits until
/// LMDB holds every earlier ready and commits durably.
extension ReplicatedMailboxes {
    /// What a replica with a journal uses.
    struct JournalPipeline: Sendable {
        let journal: JournaledCommits
        let entries: JournaledLogStorage
        let applies: ApplyQueue
        /// Where journal records are appended, off the actor (LMDB commits run on `storage`).
        let queue: StorageQueue
    }

    /// A ready handed to LMDB, waiting (in order) for what follows it.
    struct PendingReady {
        let number: UInt64
        let ready: RaftReady
        let appliedIndex: LogIndex
        let numberedBefore: UInt64
        let proposals: [Proposal?]
        /// Set once LMDB committed it.
        var outcomes: [MailboxStore.Applied]?
    }

    func processJournaled(
        _ ready: RaftReady, messages: [RaftMessage], entries: [MailboxStore.Entry], proposals: [Proposal?], appliedIndex: LogIndex,
        numberedBefore: UInt64, _ pipeline: JournalPipeline
    ) async throws {
        let sendAfterwards = ready.messagesMayPrecedePersistence ? [] : messages
        let batch = ready.needsPersistence ? RaftLogStore.batch(of: ready) : nil
        var record: UInt64?
        if ready.needsDurability, let batch {
            if pipeline.journal.journal.size >= JournaledCommits.checkpointBytes { try await checkpointJournal(pipeline) }
            pipeline.entries.add(ready.entries, truncatingFrom: ready.truncateFrom)
            let bytes = batch.journalRecord()
            let (journal, send, metrics) = (pipeline.journal, self.send, self.metrics)
            record = try await pipeline.queue.run {
                let number = try metrics.timingSync { try journal.append(bytes) }
                for message in sendAfterwards { send(message) }
                return number
            }
        } else {
            // Nothing that must be durable first (at most a new commit index).
            for message in sendAfterwards { send(message) }
        }
        node.persisted(ready.durableMark)
        let number = nextPendingReady
        nextPendingReady += 1
        pendingReadies.append(PendingReady(number: number, ready: ready, appliedIndex: appliedIndex, numberedBefore: numberedBefore, proposals: proposals))
        guard batch != nil || !entries.isEmpty else { return readyCommitted(number, .success([])) }
        let (log, mailboxes, onApplied, journal, pending) = (self.log, self.mailboxes, self.onApplied, pipeline.journal, pipeline.entries)
        let journaled = record
        let applied = Array(zip(ready.committedEntries, proposals))
        // Only the log to write, and nothing to do after it: it can share a later commit.
        let hold = entries.isEmpty && ready.readStates.isEmpty && ready.membership == nil && ready.leaderChange == nil
        pipeline.applies.enqueue(ApplyQueue.Job(
            write: { txn in
                if let batch { try log.write(batch, in: txn) }
                if let journaled { try journal.recordApplied(journaled, in: txn) }
                return entries.isEmpty ? [] : try mailboxes.apply(entries, in: txn)
            },
            committed: { [weak self] result in
                if case .success(let outcomes) = result {
                    pending.remove(ready.entries)
                    // From the storage queue, in ready order: a push to a client does not wait
                    // for this actor.
                    let changes = Self.changes(outcomes, of: applied)
                    if !changes.isEmpty { onApplied(changes) }
                }
                guard let self else { return }
                let schedule = self.committedReadies.withLock { committed in
                    committed.results.append((number, result))
                    defer { committed.scheduled = true }
                    return !committed.scheduled
                }
                // One hop to the actor for all the readies committed meanwhile.
                if schedule { Task { await self.finishCommitted() } }
            }
        ), hold: hold)
    }

    /// Readies LMDB committed (or failed to) since the last look, and whether a task is on its
    /// way to finish them.
    struct CommittedReadies: Sendable {
        var results: [(UInt64, Result<[MailboxStore.Applied], any Error>)] = []
        var scheduled = false
    }

    private func finishCommitted() {
        let results = committedReadies.withLock { committed in
            defer { committed = CommittedReadies() }
            return committed.results
        }
        for (number, result) in results { readyCommitted(number, result) }
    }

    /// LMDB committed ready `number` (or failed to): finishes, in order, every ready it holds.
    private func readyCommitted(_ number: UInt64, _ result: Result<[MailboxStore.Applied], any Error>) {
        switch result {
        case .failure(let error):
            // The node was told these readies are done: this replica cannot go on. The journal
            // holds their log writes, redone at the next start.
            if storageFailure == nil { logger.error("raft: committing readies to LMDB failed, the replica stops: \(error)") }
            storageFailure = storageFailure ?? error
            pendingReadies.removeAll()
            failWaiters()
        case .success(let outcomes):
            if let index = pendingReadies.firstIndex(where: { $0.number == number }) { pendingReadies[index].outcomes = outcomes }
            while let first = pendingReadies.first, let outcomes = first.outcomes {
                pendingReadies.removeFirst()
                finishReady(
                    first.ready, appliedIndex: first.appliedIndex, numberedBefore: first.numberedBefore, outcomes: outcomes, proposals: first.proposals,
                    handedOver: true
                )
            }
        }
        guard pendingReadies.isEmpty else { return }
        let waiters = appliesIdleWaiters
        appliesIdleWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until LMDB holds every ready handed to it and what follows each one ran.
    func drainApplies() async {
        guard !pendingReadies.isEmpty else { return }
        journalPipeline?.applies.commitHeld()
        await withCheckedContinuation { appliesIdleWaiters.append($0) }
    }

    /// Syncs LMDB and empties the journal, once LMDB holds every journaled record.
    private func checkpointJournal(_ pipeline: JournalPipeline) async throws {
        await drainApplies()
        if let storageFailure { throw storageFailure }
        let journal = pipeline.journal
        try await storage.run { try journal.checkpoint() }
    }
}
