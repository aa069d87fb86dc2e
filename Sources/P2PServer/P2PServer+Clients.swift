import ClientProtocol
import Foundation
import Logging
import Mailbox
import P2PCore
import Synchronization
import Raft
import Transport
import WireCodec

/// Why the server could not get a command committed.
public enum CommitError: Error, Equatable, Sendable {
    /// No leader reachable, or leadership changed before the command was seen to commit.
    /// Mailbox commands are idempotent, so retrying is always safe.
    case unavailable(String)
}

extension P2PServer {
    // MARK: Client links

    /// Serves one client's link: registers and attaches it, then answers its requests until it closes.
    ///
    /// The client is its proven id (the handshake checked its key): it sends as itself,
    /// acknowledges its own mail and asks for introductions to others, nothing more. A legacy
    /// id (random, from before ids were derived from keys) is served only if the registry
    /// already binds it to this key.
    func serveClient(_ link: Link, _ hello: ClientHello, _ frames: inout LinkFrameIterator) async {
        let client = link.peer.id
        guard let replica = await waitForReplica() else {
            push(.refused(reason: "the cluster has not formed yet"), on: link)
            return link.close()
        }
        if !client.isDerived(from: link.peer.publicKey) {
            // After a read barrier, so that a lagging replica does not turn an old client away.
            let lookup = await Self.lookUpClient(client, in: replica, readIndex: { await self.leaderCommitIndex(replica) }, timeout: .seconds(2))
            guard case .client(let existing?) = lookup, existing.publicKey == link.peer.publicKey else {
                logger.notice("refusing client \(client): its id is not derived from its key and not registered with it")
                push(.refused(reason: "client id \(client) is neither derived from the client's key nor registered with it"), on: link)
                return link.close()
            }
        }
        do {
            let record = ClientRecord(
                id: client, publicKey: link.peer.publicKey, lanAddresses: hello.lanAddresses,
                listenAddress: hello.listenAddress, listenPort: hello.listenPort, lastSeenMillis: Self.nowMillis()
            )
            switch try await commit(.register(record), budget: .seconds(30)) {
            case .keyMismatch:
                logger.notice("refusing client \(client): its id is bound to another key")
                push(.refused(reason: "client id \(client) is bound to another key"), on: link)
                return link.close()
            case .done:
                break
            case let other:
                push(.refused(reason: "registration refused: \(other)"), on: link)
                return link.close()
            }
        } catch {
            push(.refused(reason: "could not register: \(error)"), on: link)
            return link.close()
        }
        let session = ClientSession(client: client, link: link, store: replica.mailboxes)
        guard sessions.add(session) else {
            push(.refused(reason: "client \(client) already holds \(ClientSessions.maximumPerClient) links to this server"), on: link)
            return link.close()
        }
        defer {
            link.close()
            if sessions.remove(session) {
                let server = id
                Task { _ = try? await self.commit(.detach(client: client, server: server, atMillis: Self.nowMillis()), budget: .seconds(5)) }
            }
        }
        do {
            _ = try await commit(
                .attach(client: client, server: id, observedAddress: link.peer.remoteAddress, atMillis: Self.nowMillis()),
                budget: .seconds(30)
            )
        } catch {
            await session.push(.refused(reason: "could not attach: \(error)"))
            return
        }
        await session.push(.welcome(
            server: id, leader: await replica.leader, clusterKey: clusterKey.publicKeyBytes,
            proof: clusterKey.proof(channelBinding: link.peer.channelBinding, server: id)
        ))
        if hello.subscribe { await session.setSubscribed(true) }
        logger.debug("client attached", metadata: ["p2p.client": "\(client)"])
        await serveRequests(of: client, session, replica, &frames)
    }

    /// Answers a client's requests until its link closes. Requests that commit through Raft
    /// run concurrently, at most ``ServerConfiguration/maximumRequestsInFlight`` at a time and at
    /// the client's ``ServerConfiguration/clientSendRate``: beyond either the link is simply read
    /// more slowly, so a client can slow down only itself.
    private func serveRequests(of client: NodeID, _ session: ClientSession, _ replica: ReplicatedMailboxes, _ frames: inout LinkFrameIterator) async {
        let link = session.link
        var bucket = TokenBucket(rate: configuration.clientSendRate, burst: configuration.clientSendRate * 2)
        var lastIntroduction: [NodeID: ContinuousClock.Instant] = [:]
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            do {
                while let frame = try await frames.next() {
                    // A client that does not read its answers is not read either.
                    while link.queuedBytes > Self.answerBacklog { try await Task.sleep(for: .milliseconds(5)) }
                    guard frame.type == ClientProtocol.requestFrame else {
                        throw TransportError.protocolViolation("frame type \(frame.type) is not allowed on a client link")
                    }
                    let request = try ClientRequest(decoding: frame.bytes)
                    if request.commits {
                        if inFlight >= configuration.maximumRequestsInFlight {
                            await group.next()
                            inFlight -= 1
                        }
                        let wait = bucket.take(now: .now)
                        if wait > .zero { try await Task.sleep(for: wait) }
                        inFlight += 1
                    }
                    switch request {
                    case .hello:
                        throw TransportError.protocolViolation("a second hello")
                    case .send(let request, let message):
                        guard message.id.sender == client else {
                            throw TransportError.protocolViolation("client \(client) sent as \(message.id.sender)")
                        }
                        group.addTask {
                            let result = await self.relay(message)
                            await session.push(.sendResult(request: request, result))
                        }
                    case .acknowledge(let messageID):
                        group.addTask {
                            // A lost acknowledgement is harmless: the message is pushed again and acknowledged again.
                            _ = try? await self.commit(.acknowledge(recipient: client, id: messageID), budget: .seconds(5))
                        }
                    case .subscribe(let on):
                        await session.setSubscribed(on)
                    case .query(let request, let query):
                        let result = await answer(query, replica)
                        await session.push(.queryResult(request: request, result))
                    case .connect(let request, let peer, let tcp, let udp):
                        var introduction: Introduction?
                        let now = ContinuousClock.now
                        if lastIntroduction[peer].map({ now - $0 >= configuration.introductionInterval }) ?? true {
                            if lastIntroduction.count > 4096 { lastIntroduction.removeAll() }
                            lastIntroduction[peer] = now
                            introduction = introduce(client, to: peer, tcp: tcp, udp: udp, replica)
                        }
                        await session.push(.connectResult(request: request, introduction))
                    case .directPeers(let peers):
                        await session.setDirectPeers(peers)
                    }
                }
            } catch {
                logger.debug("client link closed", metadata: ["p2p.client": "\(client)", "p2p.reason": "\(error)"])
            }
            group.cancelAll()
        }
    }

    /// Bytes queued for a client beyond which its next request waits.
    static let answerBacklog = 1 << 20

    /// Commits a client's message into its recipient's mailbox. A skip the client sends (for an
    /// id of its own that was refused without a trace: quota or storage full) carries no payload.
    func relay(_ message: MailMessage) async -> SendResult {
        guard message.payload.count <= configuration.maximumMessageSize else {
            return .tooLarge(limit: configuration.maximumMessageSize)
        }
        let stamped = MailMessage(
            id: message.id, recipient: message.recipient, payload: message.isSkip ? [] : message.payload,
            enqueuedAtMillis: Self.nowMillis(), isSkip: message.isSkip
        )
        do {
            switch try await commit(.enqueue(stamped), budget: .seconds(2)) {
            case .stored:
                if !stamped.isSkip {
                    relayCounters.withLock {
                        $0.messages += 1
                        $0.bytes += UInt64(message.payload.count)
                    }
                }
                return .stored
            case .alreadyDelivered: return .alreadyDelivered
            case .mailboxFull: return .mailboxFull
            case .senderQuotaExceeded(let limit): return .quotaExceeded(limit: limit)
            case .storageFull(let limit): return .storageFull(limit: limit)
            case .unknownRecipient: return .unknownRecipient
            case let other: return .unavailable(reason: "unexpected outcome \(other)")
            }
        } catch {
            return .unavailable(reason: "\(error)")
        }
    }

    private func answer(_ query: ClientRequest.Query, _ replica: ReplicatedMailboxes) async -> QueryResult {
        switch query {
        case .servers:
            return .servers(leader: await replica.leader, members: await replica.membership.all.sorted())
        case .clients:
            return .clients((try? Self.clientRecords(replica.mailboxes)) ?? [])
        case .client(let id):
            return await Self.lookUpClient(id, in: replica, readIndex: { await self.leaderCommitIndex(replica) }, timeout: .seconds(2))
        }
    }

    private func push(_ message: ServerPush, on link: Link) {
        try? link.send(type: ClientProtocol.pushFrame, message.encoded())
    }

    private func waitForReplica() async -> ReplicatedMailboxes? {
        for _ in 0..<600 {
            if let replica { return replica }
            do { try await Task.sleep(for: .milliseconds(50)) } catch { return nil }
        }
        return nil
    }

    static func nowMillis() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }

    // MARK: Committing through the leader

    /// Commits `command` through Raft — proposing it here when this server leads, forwarding it to
    /// the leader otherwise — retrying for up to `budget` while there is no leader.
    func commit(_ command: MailboxCommand, budget: Duration) async throws -> MailboxOutcome {
        let deadline = ContinuousClock.now + budget
        var pause: Duration = .milliseconds(20)
        while true {
            do {
                return try await commitOnce(command)
            } catch let error as CommitError {
                guard ContinuousClock.now + pause < deadline else { throw error }
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(500))
        }
    }

    private func commitOnce(_ command: MailboxCommand) async throws -> MailboxOutcome {
        guard let replica else { throw CommitError.unavailable("the cluster has not formed yet") }
        do {
            return try await replica.propose(command)
        } catch ReplicatedMailboxes.ProposalError.notLeader(let leader) {
            // Without a known leader (a server still joining), any member can pass the command on.
            let target = leader.flatMap { $0 == id || !peers.canReach($0) ? nil : $0 } ?? peers.anyMember
            guard let target else { throw CommitError.unavailable("no leader") }
            let request = forwards.nextRequest()
            let result: ForwardedReply.Result
            do {
                result = try await forwards.wait(for: request, timeout: .seconds(3), origin: target) {
                    try peers.send(to: target, type: ServerFrameType.forward, ForwardedCommand(request: request, command: command).encoded())
                }
            } catch {
                throw CommitError.unavailable("forwarding to the leader failed: \(error)")
            }
            switch result {
            case .applied(let outcome): return outcome
            case .retry(let reason): throw CommitError.unavailable(reason)
            }
        } catch let error as ReplicatedMailboxes.ProposalError {
            throw CommitError.unavailable("\(error)")
        }
    }

    /// Proposes a command a follower forwarded, and answers it.
    func proposeForwarded(_ forwarded: ForwardedCommand, replyingOn link: PeerChannel) async {
        let result: ForwardedReply.Result
        do {
            // Passed on if leadership moved (or this server only relays for a joining one).
            result = .applied(try await commit(forwarded.command, budget: .seconds(2)))
        } catch {
            result = .retry("\(error)")
        }
        try? link.send(type: ServerFrameType.forwardReply, ForwardedReply(request: forwarded.request, result: result).encoded())
    }

    // MARK: Pushing what was applied

    /// Wakes the pumps of recipients with new mail and tells senders their messages were delivered.
    func applied(_ changes: [ReplicatedMailboxes.AppliedChange]) {
        var newMail: Set<NodeID> = []
        var acknowledged: [NodeID: [MessageID]] = [:]
        var receipts: [NodeID: [(NodeID, MessageID)]] = [:]
        for change in changes {
            switch change {
            case .snapshotRestored:
                for session in sessions.all { Task { await session.rewind() } }
                dialRegisteredServers()
            case .command(.registerServer(let server, let address), _) where server != id:
                requestDial(address)
            case .command(.enqueue(let message), .stored), .command(.enqueue(let message), .mailboxFull):
                // A refused message leaves a skip record, which is pushed like a message.
                newMail.insert(message.recipient)
            case .command(.acknowledge(let recipient, let messageID), let outcome):
                acknowledged[recipient, default: []].append(messageID)
                // A skip's acknowledgement delivered nothing: its sender must not hear "delivered".
                if outcome != .skipAcknowledged { receipts[messageID.sender, default: []].append((recipient, messageID)) }
            default:
                continue
            }
        }
        for recipient in newMail {
            for session in sessions.sessions(of: recipient) { Task { await session.wake() } }
        }
        for (recipient, ids) in acknowledged {
            for session in sessions.sessions(of: recipient) {
                Task { for messageID in ids { await session.acknowledged(messageID) } }
            }
        }
        for (sender, list) in receipts {
            for session in sessions.sessions(of: sender) {
                Task { for (recipient, messageID) in list { await session.push(.delivered(recipient: recipient, id: messageID)) } }
            }
        }
    }
}

extension ClientRequest {
    /// Whether the request commits through Raft (and so counts against the client's rate and in-flight cap).
    var commits: Bool {
        switch self {
        case .send, .acknowledge: true
        case .hello, .subscribe, .query, .connect, .directPeers: false
        }
    }
}
