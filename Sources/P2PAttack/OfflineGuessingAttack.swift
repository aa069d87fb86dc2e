import NIOCore
import P2PCore
import WireCodec

/// Offline guessing: a dialler with a wrong secret must get nothing from the listener but its
/// hello (nothing derived from the secret it could test guesses against) before the connection
/// closes. Driven by hand over a raw connection; a control run with the right secret shows the
/// hand-made handshake is the real one (the listener then does authenticate).
struct OfflineGuessingAttack {
    let context: AttackContext

    private struct Exchange {
        /// Frame types the listener sent, in order.
        var types: [UInt8] = []
        var closedByServer = false
        var failure: String?
    }

    private func exchange(role: UInt8, secret: String, server: ServerTarget, source: String) async -> Exchange {
        var exchange = Exchange()
        let handshake = RawHandshake(role: role)
        do {
            let channel = try await RawConnection.open(host: server.address.host, port: server.address.port, from: source)
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(try RawConnection.wire(Frame(type: RawHandshake.helloType, bytes: handshake.hello)))
                var frames = inbound.makeAsyncIterator()
                let watchdog = Watchdog(after: .seconds(8)) { channel.channel.close(promise: nil) }
                defer { watchdog.cancel() }
                guard let first = try await frames.next() else {
                    exchange.closedByServer = !watchdog.fired
                    return
                }
                exchange.types.append(first.type)
                guard first.type == RawHandshake.helloType else { return }
                try await outbound.write(try RawConnection.wire(Frame(
                    type: RawHandshake.authType, bytes: try handshake.authentication(listenerHello: first.bytes, secret: secret)
                )))
                do {
                    while let frame = try await frames.next() {
                        exchange.types.append(frame.type)
                        if frame.type == RawHandshake.authType { return }  // what a guesser wants
                    }
                } catch {}
                exchange.closedByServer = !watchdog.fired
            }
        } catch {
            exchange.failure = "\(error)"
        }
        return exchange
    }

    func run() async -> AttackOutcome {
        let name = "offline-guessing"
        let server = context.servers[1]
        var notes: [String] = []
        for (role, label) in [(UInt8(1), "client"), (2, "server"), (3, "admin")] {
            let guess = "wrong-guess-\(label)"
            let result = await exchange(role: role, secret: guess, server: server, source: AttackContext.attackerAddress(group: 5, index: Int(role)))
            if let failure = result.failure, result.types.isEmpty { notes.append("\(label) role: \(failure)"); continue }
            let afterHello = result.types.dropFirst()
            if !afterHello.isEmpty {
                return .vulnerable(name, "as \(label) with a wrong secret the listener sent frame types \(result.types) (its authentication is material for offline guessing)")
            }
            if !result.closedByServer { return .vulnerable(name, "as \(label) with a wrong secret the listener kept the connection open") }
            notes.append("\(label) role, wrong secret: \(result.types.isEmpty ? "closed before any hello" : "only the listener's hello, then closed")")
        }
        // Control: the same hand-made handshake with the right cluster secret is answered.
        let control = await exchange(role: 1, secret: context.secret, server: server, source: AttackContext.attackerAddress(group: 5, index: 9))
        guard control.types.starts(with: [RawHandshake.helloType, RawHandshake.authType]) else {
            return .vulnerable(name, "control with the right secret got frame types \(control.types) \(control.failure ?? ""): the hand-made handshake may not match, so the refusals prove nothing")
        }
        notes.append("control with the right secret: hello and authentication")
        return .refused(name, notes.joined(separator: "; "))
    }
}
