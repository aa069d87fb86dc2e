import P2PCore

extension RaftNode {
    mutating func stepLeader(_ message: RaftMessage) {
        guard var peer = progress[message.from] else { return }
        peer.recentActive = true
        switch message.body {
        case .appendResponse(let reject, let index, let hintIndex, let hintTerm):
            // A follower cannot hold, nor be asked about, an entry beyond our log.
            guard index <= log.lastIndex else { return }
            progress[message.from] = peer
            if reject {
                handleRejection(from: message.from, rejected: index, hintIndex: hintIndex, hintTerm: hintTerm)
            } else {
                handleAcknowledgement(from: message.from, index: index)
            }
        case .heartbeatResponse(let readRound):
            peer.probeSent = false
            progress[message.from] = peer
            if peer.match < log.lastIndex { sendAppend(to: message.from, allowEmpty: false) }
            if membership.voters.contains(message.from) {
                readOnly.acknowledge(readRound, from: message.from)
                releaseConfirmedReads()
            }
        case .propose(let commands):
            progress[message.from] = peer
            // During a transfer the proposal is dropped, as the leader's own would be refused.
            if transferTarget == nil { _ = appendCommands(commands) }
        case .readIndex(let context):
            progress[message.from] = peer
            handleReadRequest(from: message.from, context: context)
        default:
            progress[message.from] = peer
        }
    }

    private mutating func handleRejection(from follower: NodeID, rejected: LogIndex, hintIndex: LogIndex, hintTerm: Term) {
        guard var peer = progress[follower] else { return }
        switch peer.state {
        case .replicate where rejected <= peer.match:
            return  // stale
        case .probe where rejected != peer.next - 1:
            return  // stale
        case .snapshot:
            return
        default:
            break
        }
        var next = hintIndex
        if hintTerm > 0 {
            let candidate = log.lastIndex(withTermAtMost: hintTerm)
            if log.term(at: candidate) == hintTerm { next = min(next, candidate + 1) }
        }
        peer.state = .probe
        peer.probeSent = false
        peer.inflight.removeAll()
        peer.next = max(min(next, rejected), peer.match + 1)
        progress[follower] = peer
        sendAppend(to: follower, allowEmpty: true)
    }

    private mutating func handleAcknowledgement(from follower: NodeID, index: LogIndex) {
        guard var peer = progress[follower] else { return }
        if peer.acknowledge(index) {
            switch peer.state {
            case .probe:
                peer.becomeReplicate()
            case .snapshot(let pending) where peer.match >= pending:
                peer.becomeProbe()
            default:
                break
            }
            progress[follower] = peer
            if maybeCommit() { broadcastAppend(allowEmpty: true) }
            if transferTarget == follower, peer.match == log.lastIndex {
                send(to: follower, .timeoutNow)
            }
        } else {
            progress[follower] = peer
        }
        while role == .leader, sendAppend(to: follower, allowEmpty: false) {}
    }

    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= configuration.electionTicks {
            electionElapsed = 0
            if configuration.checkQuorum {
                let active = membership.voters.filter { $0 == id || progress[$0]?.recentActive == true }.count
                if active < membership.quorum {
                    becomeFollower(term: term, leader: nil)
                    return
                }
            }
            for member in progress.keys.sorted() {
                guard var peer = progress[member] else { continue }
                peer.recentActive = false
                // Replication that made no progress for a whole election timeout lost messages:
                // probe again (this also resends a lost snapshot).
                if peer.match < log.lastIndex && peer.match == peer.matchAtLastCheck && peer.state != .probe {
                    peer.becomeProbe()
                    peer.next = peer.match + 1
                }
                peer.matchAtLastCheck = peer.match
                progress[member] = peer
            }
            transferTarget = nil  // a transfer that did not finish within an election timeout is abandoned
        }
        if heartbeatElapsed >= configuration.heartbeatTicks {
            heartbeatElapsed = 0
            for member in progress.keys.sorted() {
                guard let peer = progress[member] else { continue }
                send(to: member, .heartbeat(commit: min(peer.match, commitIndex), readRound: readOnly.round))
            }
            releaseConfirmedReads()
        }
    }

    /// Appends entries to the leader's log and replicates them.
    mutating func appendAsLeader(_ entries: [LogEntry]) {
        guard let first = entries.first else { return }
        log.append(entries)
        markAppended(from: first.index)
        _ = maybeCommit()
        broadcastAppend(allowEmpty: false)
    }

    mutating func broadcastAppend(allowEmpty: Bool) {
        for member in progress.keys.sorted() {
            sendAppend(to: member, allowEmpty: allowEmpty)
        }
    }

    /// Sends the follower what it misses (entries or the snapshot); returns whether it sent entries.
    @discardableResult
    mutating func sendAppend(to follower: NodeID, allowEmpty: Bool) -> Bool {
        guard var peer = progress[follower], !peer.isPaused(maxInflight: configuration.maxInflightMessages) else { return false }
        let prevIndex = peer.next - 1
        guard let prevTerm = log.term(at: prevIndex) else {
            guard let snapshot else { return false }
            send(to: follower, .installSnapshot(snapshot))
            peer.state = .snapshot(pendingIndex: snapshot.metadata.index)
            peer.inflight.removeAll()
            progress[follower] = peer
            return false
        }
        let entries = log.entries(from: peer.next, maxCount: configuration.maxEntriesPerMessage, maxBytes: configuration.maxBytesPerMessage)
        if entries.isEmpty && !allowEmpty && peer.state == .replicate { return false }
        send(to: follower, .appendEntries(prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, commit: commitIndex))
        switch peer.state {
        case .replicate:
            if let last = entries.last {
                peer.next = last.index + 1
                peer.inflight.append(last.index)
            }
        case .probe:
            peer.probeSent = true
        case .snapshot:
            break
        }
        progress[follower] = peer
        return !entries.isEmpty && peer.state == .replicate
    }

    /// Advances the commit index to the highest index a majority of voters holds, if that entry
    /// is from the current term (Raft §5.4.2: older entries commit only indirectly).
    mutating func maybeCommit() -> Bool {
        let own = configuration.leaderPersistsInParallel ? log.durableIndex : log.lastIndex
        let matches = membership.voters.map { $0 == id ? own : (progress[$0]?.match ?? 0) }.sorted(by: >)
        guard matches.count >= membership.quorum, membership.quorum > 0 else { return false }
        let candidate = matches[membership.quorum - 1]
        guard candidate > commitIndex, log.term(at: candidate) == term else { return false }
        commitIndex = candidate
        releasePostponedReads()
        return true
    }
}
