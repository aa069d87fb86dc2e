import ClientProtocol
import Mailbox
import P2PCore
import Raft

/// Why the server could not get a command committed.
public enum CommitError: Error, Equatable, Sendable {
    /// No leader reachable, or leadership changed before the command was seen to commit.
    /// Mailbox commands are idempotent, so retrying is always safe.
    case unavailable(String)
}

/// Committing commands and reading linearizably, for the rest of the server.
extension RaftDriver {
    /// Commits `command` through Raft (the replica proposes it; on a follower the Raft core
    /// forwards it to the leader), retrying for up to `budget` while there is no leader.
    func commit(_ command: MailboxCommand, budget: Duration) async throws -> MailboxOutcome {
        let deadline = ContinuousClock.now + budget
        var backoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(500))
        while true {
            do {
                return try await commitOnce(command)
            } catch let error as CommitError {
                guard ContinuousClock.now + backoff.current < deadline else { throw error }
            }
            try await Task.sleep(for: backoff.next())
        }
    }

    private func commitOnce(_ command: MailboxCommand) async throws -> MailboxOutcome {
        guard let replica else { throw CommitError.unavailable("the cluster has not formed yet") }
        do {
            return try await replica.propose(command)
        } catch ReplicatedMailboxes.ProposalError.notLeader(nil) {
            // A server still joining knows no leader: a member commits the command for it.
            guard await replica.membership.all.isEmpty else { throw CommitError.unavailable("no leader") }
            return try await commitThroughMember(command)
        } catch let error as ReplicatedMailboxes.ProposalError {
            throw CommitError.unavailable("\(error)")
        }
    }

    private func commitThroughMember(_ command: MailboxCommand) async throws -> MailboxOutcome {
        guard let member = mesh.links.anyMember else { throw CommitError.unavailable("no leader") }
        let reply: PeerReply
        do {
            reply = try await mesh.ask(member, .commit(command), timeout: .seconds(3))
        } catch {
            throw CommitError.unavailable("asking \(member) to commit failed: \(error)")
        }
        switch reply {
        case .committed(let outcome): return outcome
        case .retry(let reason): throw CommitError.unavailable(reason)
        case .admin: throw CommitError.unavailable("unexpected answer from \(member)")
        }
    }

    /// Commits a command a joining server asked this one to commit.
    func commit(forPeer command: MailboxCommand) async -> PeerReply {
        do {
            return .committed(try await commit(command, budget: .seconds(2)))
        } catch {
            return .retry("\(error)")
        }
    }

    /// A read index from the leader (Raft's read index: the leader confirmed its leadership with a
    /// quorum after the call); `nil` when none could be had.
    func readIndex() async -> LogIndex? {
        try? await replica?.readIndex()
    }

    /// Answers a registry lookup: a record found is always current (records are never removed);
    /// "not registered" only after a read barrier, `.unavailable` when none could be had in `timeout`.
    static func lookUpClient(
        _ id: NodeID, in replica: ReplicatedMailboxes, readIndex: () async -> LogIndex?, timeout: Duration
    ) async -> QueryResult {
        let deadline = ContinuousClock.now + timeout
        if let record = try? replica.mailboxes.client(id) { return .client(record) }
        guard let index = await readIndex() else { return .unavailable("no leader to confirm that \(id) is unknown") }
        guard await replica.waitUntilApplied(index, deadline: deadline) else {
            return .unavailable("this server is catching up with the cluster")
        }
        do {
            return .client(try replica.mailboxes.client(id))
        } catch {
            return .unavailable("\(error)")
        }
    }
}
