import NIOCore
import NIOPosix
import P2PCore
import ReliableDatagram
import Testing
import WireCodec
@testable import Transport

/// A conversation closed and opened again with the same peer: what the old session left on the
/// wire must not reach the new one.
@Suite struct UDPTunnelIncarnationTests {
    @Test func datagramsRoundTripAndMalformedOnesDoNotDecode() {
        let segment: [UInt8] = [7, 0, 0, 0, 81, 0, 0, 1, 2, 3]
        let datagrams = [
            UDPTunnelDatagram(kind: .segment(segment), conversation: 7, sender: 0xA1B2_C3D4, receiver: 0),
            UDPTunnelDatagram(kind: .keepalive, conversation: 9, sender: 1, receiver: 2),
            UDPTunnelDatagram(kind: .goodbye, conversation: 9, sender: 3, receiver: 0xFFFF_FFFF),
        ]
        for datagram in datagrams {
            #expect(UDPTunnelDatagram(decoding: Array(datagram.encoded.readableBytesView)) == datagram)
        }
        // A goodbye of the format before incarnations (kind and conversation only) is not one.
        #expect(UDPTunnelDatagram(decoding: [UDPDatagramKind.goodbye.rawValue, 9, 0, 0, 0]) == nil)
        #expect(UDPTunnelDatagram(decoding: [UDPDatagramKind.tunnelSegment.rawValue, 1, 0, 0, 0, 0, 0, 0, 0]) == nil)
        #expect(UDPTunnelDatagram(decoding: [UDPDatagramKind.probe.rawValue] + [UInt8](repeating: 0, count: 12)) == nil)
        #expect(UDPTunnelDatagram(decoding: []) == nil)
    }

    @Test func aTunnelTakesOnlyItsOwnAndItsPeersIncarnation() {
        var incarnations = UDPTunnelIncarnations(local: 10)
        #expect(incarnations.receiverStamp == 0)
        // Before a peer is learned: anything meant for no one yet or for us, never for an earlier us.
        #expect(incarnations.admitsSegment(sender: 20, receiver: 0))
        #expect(incarnations.admitsSegment(sender: 20, receiver: 10))
        #expect(!incarnations.admitsSegment(sender: 20, receiver: 11))
        #expect(!incarnations.admitsSegment(sender: 0, receiver: 0))
        #expect(!incarnations.admitsControl(sender: 20, receiver: 10))
        incarnations.learn(peer: 20)
        incarnations.learn(peer: 21)
        #expect(incarnations.receiverStamp == 20)
        #expect(incarnations.admitsSegment(sender: 20, receiver: 0))
        #expect(!incarnations.admitsSegment(sender: 21, receiver: 0))
        #expect(!incarnations.admitsSegment(sender: 21, receiver: 10))
        #expect(incarnations.admitsControl(sender: 20, receiver: 10))
        #expect(incarnations.admitsControl(sender: 20, receiver: 0))
        #expect(!incarnations.admitsControl(sender: 20, receiver: 11))
        #expect(!incarnations.admitsControl(sender: 21, receiver: 10))
    }

    @Test func aStaleSegmentOfTheOldSessionDoesNotReachTheNewOne() async throws {
        let alice = try await endpoint(NodeIdentity.ephemeral())
        let bob = try await endpoint(NodeIdentity.ephemeral())
        defer {
            alice.close()
            bob.close()
        }
        let aliceAddress = try SocketAddress(ipAddress: "127.0.0.1", port: alice.localPort)
        for round in 0..<5 {
            let (aliceLink, bobLink) = try await tunnelPair(alice, bob)
            try aliceLink.send(type: 20, [UInt8(round)])
            var frames = bobLink.inbound.makeAsyncIterator()
            #expect(try await frames.next()?.bytes == [UInt8(round)])
            aliceLink.close()
            try await withDeadline(.seconds(15)) {
                for try await _ in bobLink.inbound {}
            }
            // What an old session of Bob's could still have on the wire: the first segment of a
            // stream (sequence number 0, as the new session's first), stamped for an earlier
            // incarnation of Alice's. Held as early traffic until Alice opens again, it must be
            // dropped, not taken as the start of the new handshake.
            bob.send(try Self.firstSegment(conversation: 7, sender: 0xB0B, receiver: 0xA11CE), to: aliceAddress)
        }
        let (aliceLink, bobLink) = try await tunnelPair(alice, bob)
        try bobLink.send(type: 21, [42])
        var frames = aliceLink.inbound.makeAsyncIterator()
        #expect(try await frames.next()?.bytes == [42])
    }

    /// A tunnel datagram carrying the first KCP segment of a stream of junk.
    private static func firstSegment(conversation: UInt32, sender: UInt32, receiver: UInt32) throws -> [UInt8] {
        var session = try ReliableDatagramSession(settings: UDPTunnel.sessionSettings(conversation: conversation))
        try session.send(message: [UInt8](repeating: 0xEE, count: 64))
        session.update(current: 1)
        session.flush()
        let segment = try #require(session.drainOutbox().first)
        let datagram = UDPTunnelDatagram(kind: .segment(segment), conversation: conversation, sender: sender, receiver: receiver)
        return Array(datagram.encoded.readableBytesView)
    }

    private func endpoint(_ identity: NodeIdentity) async throws -> UDPEndpoint {
        try await UDPEndpoint.bind(host: "127.0.0.1", port: 0, configuration: LinkConfiguration(identity: identity, secret: "s3cret"))
    }

    private func tunnelPair(_ alice: UDPEndpoint, _ bob: UDPEndpoint) async throws -> (alice: Link, bob: Link) {
        async let aliceLink = alice.tunnel(to: "127.0.0.1:\(bob.localPort)", conversation: 7, role: .dialer, timeout: .seconds(10))
        async let bobLink = bob.tunnel(to: "127.0.0.1:\(alice.localPort)", conversation: 7, role: .listener, timeout: .seconds(10))
        return try await (aliceLink, bobLink)
    }
}
