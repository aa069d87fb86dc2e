import LMDB
import Logging
import Mailbox
import P2PCore
import Raft
import RaftStorage
import Synchronization

/// The driver loop: carries out the node's readies (persist, send, apply) and hands outcomes,
/// read states and applied indexes to whoever waits for them.
extension ReplicatedMailboxes {
    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        Task { await self.flush() }
    }

    func flush() async {
        flushScheduled = false
        do {
            try await processReadies()
        } catch {
            logger.error("raft: processing a ready failed: \(error)")
        }
    }

    /// Carries out the node's readies, one after the other, until it has none left.
    ///
    /// The LMDB transaction (and its sync) of each ready runs on the storage queue, not on the
    /// actor: meanwhile the actor steps incoming messages and takes proposals, which the next
    /// ready then persists together (group commit). Readies never overlap, so each one's
    /// messages still leave only after its own persistence, as the Raft driver contract asks.
    /// A caller that finds the loop running waits until it has caught up with everything,
    /// including what the caller changed.
    func processReadies() async throws {
        if processingReadies {
            await withCheckedContinuation { idleWaiters.append($0) }
            return
        }
        processingReadies = true
        inbox.withLock { $0.loopDrains = true }
        defer {
            processingReadies = false
            // Messages that came after the last look go the usual way: a drain task.
            let strayed = inbox.withLock { inbox in
                inbox.loopDrains = false
                return inbox.claimDrain()
            }
            if strayed { startDrain() }
            let waiters = idleWaiters
            idleWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
        while true {
            if try await processReady() { continue }
            loopIdleHook?()
            // Nothing to do: unless messages came in meanwhile, which the next ready steps. Only
            // once: messages that keep coming without making a ready (a flood of stale ones) go
            // to a drain task, so that they cannot hold the actor.
            guard !stopped, inbox.withLock({ !$0.messages.isEmpty }), try await processReady() else { break }
        }
    }

    /// Carries out one ready; false if the node had nothing to do.
    private func processReady() async throws -> Bool {
        // After stop() the storage may be closed: the ready stays in the node, unprocessed.
        guard !stopped else { return false }
        stepInbox()
        let ready = node.ready()
        guard !ready.isEmpty else { return false }
        let proposals = ready.committedEntries.map { entry in
            entry.kind == .normal ? try? Proposal(decoding: entry.data) : nil
        }
        let entries = zip(ready.committedEntries, proposals).map { entry, proposal in
            MailboxStore.Entry(index: entry.index, term: entry.term, command: proposal?.command)
        }
        var outcomes: [MailboxStore.Applied] = []
        // Whether the gateway already heard of the applied changes (from the storage thread).
        var handedOver = false
        let log = self.log
        let mailboxes = self.mailboxes
        let metrics = self.metrics
        // Snapshot messages carry no data: the followers they are for get the state streamed.
        let messages = takeSnapshotRequests(ready.messages)
        // A leader replicates while it writes (RaftConfiguration.leaderPersistsInParallel).
        if ready.messagesMayPrecedePersistence { for message in messages { send(message) } }
        if let snapshot = ready.snapshotToApply {
            if snapshot.data.isEmpty {
                // Streamed and staged: persisted, made live and applied after in one transaction.
                outcomes = try await installStaged(ready, snapshot, entries: entries)
                if !ready.messagesMayPrecedePersistence { for message in messages { send(message) } }
            } else {
                // An older version's snapshot, with its data. 1. Persist, 2. send, 3. apply: the
                // snapshot first, then what committed after it.
                try await storage.run { try metrics.timingSync { try log.persist(ready) } }
                if !ready.messagesMayPrecedePersistence { for message in messages { send(message) } }
                outcomes = try await storage.run {
                    try mailboxes.restore(snapshot: snapshot.data, index: snapshot.metadata.index, term: snapshot.metadata.term)
                    return entries.isEmpty ? [] : try mailboxes.apply(entries)
                }
            }
            onApplied([.snapshotRestored])
        } else if !ready.needsPersistence, entries.isEmpty {
            // Nothing to write or apply (a follower forwarding proposals to the leader, an answer
            // to a heartbeat): no transaction, and no hop to the storage queue and back.
            if !ready.messagesMayPrecedePersistence { for message in messages { send(message) } }
        } else {
            // Persisting and applying share one transaction, hence one sync. Applying before
            // sending is allowed (the entries are committed), and atomic with their persistence.
            // Once it is durable, the messages that waited for it leave and the gateway hears
            // what changed from the storage thread itself: a follower's answer and a push to a
            // client do not wait for this actor to be scheduled again (readies never overlap,
            // so the gateway still hears of them in order).
            let environment = self.environment
            let send = self.send
            let onApplied = self.onApplied
            let sendAfterwards = ready.messagesMayPrecedePersistence ? [] : messages
            let applied = Array(zip(ready.committedEntries, proposals))
            // Applying, with only a new commit index to store, needs no durability: a crash
            // that undid it leaves an older commit and applied index (written in the same
            // transaction), and the entries are applied again from the durable log. One device
            // flush instead of two, for about half of each server's commits (docs/SCALING.md).
            let durability: Environment.CommitDurability = ready.needsDurability ? .durable : .atomic
            outcomes = try await storage.run {
                let outcomes = try metrics.timingSync {
                    try environment.write(durability) { txn in
                        try log.write(ready, in: txn)
                        return entries.isEmpty ? [] : try mailboxes.apply(entries, in: txn)
                    }
                }
                for message in sendAfterwards { send(message) }
                let changes = Self.changes(outcomes, of: applied)
                if !changes.isEmpty { onApplied(changes) }
                return outcomes
            }
            handedOver = true
        }
        node.persisted(ready.durableMark)
        storedAppliedIndex = node.appliedIndex
        if !ready.committedEntries.isEmpty {
            metrics.committed(ready.committedEntries.count)
            let applied = Array(zip(ready.committedEntries, proposals))
            if !handedOver {
                let changes = Self.changes(outcomes, of: applied)
                if !changes.isEmpty { onApplied(changes) }
            }
            resumeProposers(outcomes, of: applied)
            appliedBytesSinceCompaction += ready.committedEntries.reduce(0) { $0 + $1.size }
            // The compaction is persisted by the loop's next ready.
            if shouldCompact { compactAtApplied() }
        }
        startSnapshotStreams()
        if ready.snapshotToApply != nil || !ready.committedEntries.isEmpty { appliedWaiters.advance(to: storedAppliedIndex) }
        for state in ready.readStates { reads.resume(state.context, returning: state.index) }
        if ready.membership != nil || ready.leaderChange != nil { announceChange() }
        if let membership = ready.membership {
            onMembership(membership)
            logger.info("raft: membership applied", metadata: [
                "raft.voters": "\(membership.voters.sorted().map { "\($0)" }.joined(separator: ","))",
                "raft.learners": "\(membership.learners.sorted().map { "\($0)" }.joined(separator: ","))",
            ])
        }
        if let change = ready.leaderChange {
            logger.info("raft: leader is now \(change.leader.map { "\($0)" } ?? "unknown")", metadata: ["raft.term": "\(change.term)"])
            onLeaderChange(change.leader, change.term)
            if node.role != .leader { snapshotSender.stopAll(reason: "no longer the leader") }
            // Proposals and reads in the hands of a leader that is gone may never be answered:
            // let their callers retry.
            failWaiters()
        }
        return true
    }

    /// What changed for the application: each applied command with its outcome, a batch's
    /// commands one by one.
    static func changes(_ outcomes: [MailboxStore.Applied], of applied: [(LogEntry, Proposal?)]) -> [AppliedChange] {
        var outcomeByIndex: [LogIndex: MailboxStore.Applied] = [:]
        for applied in outcomes { outcomeByIndex[applied.index] = applied }
        var changes: [AppliedChange] = []
        for (entry, proposal) in applied {
            guard proposal != nil, let result = outcomeByIndex[entry.index] else { continue }
            switch (result.command, result.outcome) {
            case (.batch(let commands)?, .batch(let outcomes)):
                for (command, outcome) in zip(commands, outcomes) { changes.append(.command(command, outcome)) }
            case (let command?, let outcome):
                changes.append(.command(command, outcome))
            case (nil, _):
                break
            }
        }
        return changes
    }

    /// Tells this replica's proposers the outcomes of their proposals.
    private func resumeProposers(_ outcomes: [MailboxStore.Applied], of applied: [(LogEntry, Proposal?)]) {
        var outcomeByIndex: [LogIndex: MailboxStore.Applied] = [:]
        for applied in outcomes { outcomeByIndex[applied.index] = applied }
        for (entry, proposal) in applied {
            guard let proposal, proposal.proposer == id, let result = outcomeByIndex[entry.index] else { continue }
            proposals.resume(proposal.number, returning: result.outcome)
        }
    }

    func failWaiters() {
        proposals.failAll(ProposalError.lost)
        reads.failAll(ProposalError.lost)
        if stopped { appliedWaiters.failAll() }
    }
}
