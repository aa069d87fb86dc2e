import AdminProtocol
import ClientProtocol
import Crypto
import P2PCore
import P2PServer
import Transport
import WireCodec

/// Attacks on link roles: a client link speaking for a server, dialling as a server or an
/// operator without their secrets, reading or purging another client's mailbox, claiming
/// someone else's id — and Raft messages from the end of time.
struct LinkRoleAttacks {
    let context: AttackContext
    /// A registered client with one message waiting in its mailbox (nobody but its owner and
    /// the operator may read or purge it).
    let victim: NodeID
    /// A real client (its id is claimed by the id-theft attack).
    let realClient: NodeID
    let leader: ServerTarget
    let follower: ServerTarget
    let serverIDs: [String: NodeID]

    func run() async -> [AttackOutcome] {
        let raft = "raft-term-and-snapshot-index-max"
        let termBefore = context.options.selected(raft) ? await context.clusterTerm() : nil
        var attacks: [(name: String, attack: () async -> AttackOutcome)] = smuggled().map { name, type, target, payload in
            (name, { await smuggle(name, type: type, to: target, payload) })
        }
        attacks += [
            (raft, { await raftFromTheEndOfTime(termBefore: termBefore) }),
            ("dial-as-server-without-server-secret", { await dialAsServer() }),
            ("dial-as-admin-without-admin-secret", { await dialAsAdmin() }),
            ("read-purge-foreign-mailbox", { await foreignMailbox() }),
            ("claim-server-id", { await claimID("claim-server-id", serverIDs[follower.name], "the id of server \(follower.name)") }),
            ("claim-client-id", { await claimID("claim-client-id", realClient, "a registered client's id") }),
        ]
        return await context.run(attacks)
    }

    /// (name, frame type, target, payload for an attacker id and the target's id).
    private func smuggled() -> [(String, UInt8, ServerTarget, @Sendable (NodeID, NodeID) -> [UInt8])] {
        let victim = self.victim
        return [
            ("client-sends-server-hello", ServerFrames.type, follower, { attacker, _ in ServerFrames.serverHello(from: attacker) }),
            ("client-sends-raft", ServerFrames.type, leader, { attacker, server in ServerFrames.heartbeatAtMaximumTerm(from: attacker, to: server) }),
            ("client-sends-forwarded-proposal", ServerFrames.type, leader, { attacker, server in ServerFrames.forwardedPurge(of: victim, from: attacker, to: server) }),
            ("client-sends-commit-request", ServerFrames.type, leader, { _, _ in ServerFrames.commitPurge(of: victim) }),
            ("client-sends-admin-request", ServerFrames.type, follower, { _, _ in ServerFrames.adminPurge(of: victim) }),
            ("client-sends-read-index", ServerFrames.type, leader, { attacker, server in ServerFrames.readIndexRequest(from: attacker, to: server) }),
            ("client-sends-relay", ServerFrames.type, follower, { _, server in ServerFrames.relayedAdminPurge(of: victim, to: server) }),
            ("client-sends-introduce", ServerFrames.type, follower, { attacker, _ in ServerFrames.introduction(for: victim, from: attacker) }),
        ]
    }

    /// Sends a server frame on a client link, as its first frame and again after a welcome;
    /// the link must be closed both times without any server frame in answer.
    private func smuggle(
        _ name: String, type: UInt8, to target: ServerTarget, _ payload: @Sendable (NodeID, NodeID) -> [UInt8]
    ) async -> AttackOutcome {
        var notes: [String] = []
        for afterWelcome in [false, true] {
            let position = afterWelcome ? "after the welcome" : "as the first frame"
            let client: HostileClient
            do {
                client = try await HostileClient.dial(target.address, secret: context.secret)
            } catch {
                return .vulnerable(name, "could not even open a client link to \(target.name): \(error)")
            }
            if afterWelcome {
                let (push, end) = await client.hello()
                guard case .welcome? = push else {
                    return .vulnerable(name, "the control hello got \(push.map { "\($0)" } ?? end.map { "\($0)" } ?? "nothing")")
                }
            }
            let serverID = serverIDs[target.name] ?? .random()
            do {
                try client.send(type: type, payload(client.id, serverID))
            } catch {
                notes.append("\(position): closed before the frame went out")
                continue
            }
            let (frames, closedByServer, _) = await client.awaitClose(within: .seconds(5))
            let served = frames.filter { FrameType.isServerFrame($0.type) }
            if let answer = served.first {
                client.close()
                return .vulnerable(name, "\(position) the server answered with server frame type \(answer.type) (\(served.count) in all)")
            }
            guard closedByServer else { return .vulnerable(name, "\(position) the link stayed open for 5 s") }
            notes.append("\(position): link closed, no answer")
        }
        return .refused(name, "\(target.name): " + notes.joined(separator: "; "))
    }

    /// A heartbeat at term UInt64.max and a snapshot at index UInt64.max: on a client link (as
    /// first frame, after a welcome) and through a server link the attacker cannot open; the
    /// cluster's term and leader must not move.
    private func raftFromTheEndOfTime(termBefore: (term: UInt64, leader: NodeID?)?) async -> AttackOutcome {
        let name = "raft-term-and-snapshot-index-max"
        let leaderID = serverIDs[leader.name] ?? .random()
        var notes: [String] = []
        for (what, payload) in [
            ("heartbeat term=max", { (attacker: NodeID) in ServerFrames.heartbeatAtMaximumTerm(from: attacker, to: leaderID) }),
            ("installSnapshot index=max", { (attacker: NodeID) in ServerFrames.snapshotAtMaximumIndex(from: attacker, to: leaderID) }),
        ] {
            for afterWelcome in [false, true] {
                guard let client = try? await HostileClient.dial(leader.address, secret: context.secret) else {
                    return .vulnerable(name, "could not open a client link")
                }
                if afterWelcome { _ = await client.hello() }
                try? client.send(type: ServerFrames.type, payload(client.id))
                let (frames, closed, _) = await client.awaitClose(within: .seconds(5))
                if let answer = frames.first(where: { FrameType.isServerFrame($0.type) }) {
                    return .vulnerable(name, "\(what) on a client link answered with server frame type \(answer.type)")
                }
                if !closed { return .vulnerable(name, "\(what) on a client link: link left open") }
            }
            notes.append("\(what): client links closed")
            // The only link that could carry it: a server link, which needs the server secret.
            for guess in [context.secret, "guessed-server-secret"] {
                if let link = try? await HostileClient.dial(leader.address, role: .server, secret: context.secret, serverSecret: guess) {
                    try? link.send(type: ServerFrames.type, payload(link.id))
                    link.close()
                    return .vulnerable(name, "a server link opened without the server secret; \(what) was delivered")
                }
            }
        }
        notes.append("server links refused without the server secret")
        try? await Task.sleep(for: .seconds(1))
        guard let termBefore, let termAfter = await context.clusterTerm() else {
            return .vulnerable(name, "could not read the cluster's term to check")
        }
        if termAfter.term > termBefore.term + 2 || termAfter.term >= UInt64.max / 2 {
            return .vulnerable(name, "the cluster's term moved from \(termBefore.term) to \(termAfter.term)")
        }
        notes.append("term \(termBefore.term)→\(termAfter.term), leader \(termBefore.leader == termAfter.leader ? "unchanged" : "CHANGED")")
        if termBefore.leader != termAfter.leader { return .vulnerable(name, notes.joined(separator: "; ")) }
        return .refused(name, notes.joined(separator: "; "))
    }

    /// Dials as a server with a guessed server secret, and with the cluster secret in its place.
    private func dialAsServer() async -> AttackOutcome {
        let name = "dial-as-server-without-server-secret"
        var errors: [String] = []
        for (label, guess) in [("the cluster secret", context.secret), ("a guess", "p2pcore-server-secret")] {
            do {
                let link = try await HostileClient.dial(follower.address, role: .server, secret: context.secret, serverSecret: guess)
                try? link.send(type: ServerFrames.type, ServerFrames.serverHello(from: link.id))
                let (frames, _, _) = await link.awaitClose(within: .seconds(2))
                return .vulnerable(name, "handshake as server with \(label) succeeded (\(frames.count) frames answered)")
            } catch {
                errors.append("with \(label): \(error)")
            }
        }
        return .refused(name, errors.joined(separator: "; "))
    }

    /// Dials as an operator with a guessed admin secret and with the cluster secret, and asks
    /// for the victim's mailbox.
    private func dialAsAdmin() async -> AttackOutcome {
        let name = "dial-as-admin-without-admin-secret"
        var errors: [String] = []
        for (label, guess) in [("the cluster secret", context.secret), ("a guess", "p2pcore-admin-secret")] {
            do {
                let link = try await HostileClient.dial(follower.address, role: .admin, secret: context.secret, adminSecret: guess)
                try? link.send(type: AdminProtocol.requestFrame, (try? AdminProtocol.encode(AdminRequest.mailbox(client: victim, peek: 10))) ?? [])
                let (frames, _, _) = await link.awaitClose(within: .seconds(2))
                return .vulnerable(name, "handshake as admin with \(label) succeeded (\(frames.count) frames answered)")
            } catch {
                errors.append("with \(label): \(error)")
            }
        }
        return .refused(name, errors.joined(separator: "; "))
    }

    /// The victim's mailbox depth, as the operator sees it.
    private func victimDepth() async -> Int? {
        guard case .mailbox(let report)? = try? await context.operatorRequest(.mailbox(client: victim, peek: 0)) else { return nil }
        return report.messages
    }

    /// Admin requests for another client's mailbox on a client link: read, purge and delete, as
    /// the first frame and after a welcome (the admin role itself is ``dialAsAdmin()``).
    private func foreignMailbox() async -> AttackOutcome {
        let name = "read-purge-foreign-mailbox"
        guard let before = await victimDepth(), before > 0 else {
            return .vulnerable(name, "setup: the victim's mailbox is empty or unreadable by the operator")
        }
        var notes: [String] = []
        let read = AdminRequest.mailbox(client: victim, peek: 10), purge = AdminRequest.purge(client: victim)
        let delete = AdminRequest.delete(client: victim, message: MessageID(sender: realClient, sequence: 1))
        let attempts: [(String, AdminRequest, Bool)] = [
            ("read as first frame", read, false), ("read after welcome", read, true),
            ("purge as first frame", purge, false), ("purge after welcome", purge, true),
            ("delete after welcome", delete, true),
        ]
        for (what, request, afterWelcome) in attempts {
            guard let client = try? await HostileClient.dial(follower.address, secret: context.secret) else {
                return .vulnerable(name, "could not open a client link")
            }
            if afterWelcome { _ = await client.hello() }
            try? client.send(type: AdminProtocol.requestFrame, (try? AdminProtocol.encode(request)) ?? [])
            let (frames, closed, _) = await client.awaitClose(within: .seconds(4))
            let answers = frames.filter { $0.type == AdminProtocol.responseFrame }.compactMap { try? AdminProtocol.decode(AdminResponse.self, from: $0.bytes) }
            for answer in answers {
                switch answer {
                case .failed(let failure) where failure.kind == .unauthorized: continue
                case .failed: continue
                default: return .vulnerable(name, "\(what) on a client link was answered: \(answer)")
                }
            }
            notes.append("\(what): \(answers.isEmpty ? (closed ? "closed" : "ignored") : "unauthorized")")
        }
        guard let after = await victimDepth() else { return .vulnerable(name, "the victim's mailbox is gone") }
        if after != before { return .vulnerable(name, "the victim's mailbox went from \(before) to \(after) messages") }
        notes.append("victim's mailbox still \(after)")
        return .refused(name, notes.joined(separator: "; "))
    }

    /// A hello with someone else's id and the attacker's own key.
    private func claimID(_ name: String, _ claimed: NodeID?, _ what: String) async -> AttackOutcome {
        guard let claimed else { return .vulnerable(name, "setup: no id to claim") }
        let identity = NodeIdentity(id: claimed, signingKey: .init())
        let client: HostileClient
        do {
            client = try await HostileClient.dial(follower.address, identity: identity, secret: context.secret)
        } catch {
            return .refused(name, "handshake with \(what) and a foreign key failed: \(error)")
        }
        let (push, end) = await client.hello()
        client.close()
        switch push {
        case .welcome?: return .vulnerable(name, "welcomed as \(claimed) with a foreign key")
        case .refused(let reason)?: return .refused(name, "link accepted, hello refused: \(reason)")
        default: return .refused(name, "link closed without a welcome (\(end.map { "\($0)" } ?? "no answer"))")
        }
    }
}
