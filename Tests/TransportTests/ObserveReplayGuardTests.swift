import P2PCore
import Testing
@testable import Transport

/// The observe replay window (``ObserveReplayGuard``) and the timestamped request it guards.
@Suite struct ObserveReplayGuardTests {
    let now: Int64 = 1_790_000_000_000

    func nonce(_ value: Int) -> [UInt8] {
        (0..<16).map { UInt8(truncatingIfNeeded: value >> (($0 % 8) * 8)) ^ UInt8($0) }
    }

    @Test func aRequestIsAnsweredOnceAndOnlyInsideTheWindow() {
        var guarded = ObserveReplayGuard(window: 30_000, capacity: 1_000)
        #expect(guarded.admit(nonce: nonce(1), timestamp: now, now: now) == .fresh)
        #expect(guarded.admit(nonce: nonce(1), timestamp: now, now: now + 1) == .replayed, "a replay inside the window")
        #expect(guarded.admit(nonce: nonce(1), timestamp: now, now: now + 30_000) == .replayed, "still inside at its edge")
        #expect(guarded.admit(nonce: nonce(1), timestamp: now, now: now + 30_001) == .outsideWindow, "a replay after the window")
        #expect(guarded.admit(nonce: nonce(2), timestamp: now - 30_001, now: now) == .outsideWindow, "stamped too long ago")
        #expect(guarded.admit(nonce: nonce(3), timestamp: now + 30_001, now: now) == .outsideWindow, "stamped in the future")
        #expect(guarded.admit(nonce: nonce(4), timestamp: now + 30_000, now: now) == .fresh, "a client clock 30 s ahead")
        // Nonces are remembered by the second of their timestamp: the same (random, 16-byte)
        // nonce within that second counts as a replay, in another second it is another request.
        #expect(guarded.admit(nonce: nonce(1), timestamp: now + 5, now: now) == .replayed)
        #expect(guarded.admit(nonce: nonce(1), timestamp: now + 1_000, now: now) == .fresh)
    }

    @Test func nonceMemoryLastsOnlyAsLongAsTheWindow() {
        var guarded = ObserveReplayGuard(window: 30_000, capacity: 100_000)
        for index in 0..<1_000 { #expect(guarded.admit(nonce: nonce(index), timestamp: now, now: now) == .fresh) }
        #expect(guarded.count == 1_000)
        // A minute later those are forgotten (their replays are outside the window anyway).
        #expect(guarded.admit(nonce: nonce(5_000), timestamp: now + 61_000, now: now + 61_000) == .fresh)
        #expect(guarded.count == 1)
        #expect(guarded.admit(nonce: nonce(5), timestamp: now, now: now + 61_000) == .outsideWindow)
    }

    @Test func atTheCapTheOldestSecondIsForgottenAndRefusedFromThenOn() {
        var guarded = ObserveReplayGuard(window: 30_000, capacity: 10)
        for index in 0..<5 { #expect(guarded.admit(nonce: nonce(index), timestamp: now - 10_000, now: now) == .fresh) }
        for index in 5..<10 { #expect(guarded.admit(nonce: nonce(index), timestamp: now, now: now) == .fresh) }
        #expect(guarded.count == 10 && guarded.floor == nil)
        // One more: the oldest second goes, and with it every request stamped then or before.
        #expect(guarded.admit(nonce: nonce(10), timestamp: now, now: now) == .fresh)
        #expect(guarded.count == 6 && guarded.floor == ObserveReplayGuard.second(of: now - 10_000))
        #expect(guarded.admit(nonce: nonce(0), timestamp: now - 10_000, now: now) == .crowdedOut, "a forgotten nonce cannot be replayed")
        #expect(guarded.admit(nonce: nonce(11), timestamp: now - 20_000, now: now) == .crowdedOut)
        #expect(guarded.admit(nonce: nonce(5), timestamp: now, now: now) == .replayed, "newer seconds are still remembered")
        #expect(guarded.admit(nonce: nonce(12), timestamp: now - 9_000, now: now) == .fresh, "later seconds are still accepted")
    }

    @Test func aFloodWithinOneSecondRefusesThatSecondButNotTheNext() {
        var guarded = ObserveReplayGuard(window: 30_000, capacity: 4)
        for index in 0..<4 { #expect(guarded.admit(nonce: nonce(index), timestamp: now, now: now) == .fresh) }
        #expect(guarded.admit(nonce: nonce(4), timestamp: now, now: now) == .fresh)
        #expect(guarded.count == 0)
        for index in 0..<5 { #expect(guarded.admit(nonce: nonce(index), timestamp: now, now: now) == .crowdedOut) }
        #expect(guarded.admit(nonce: nonce(0), timestamp: now + 1_000, now: now + 1_000) == .fresh)
    }

    @Test func malformedInputsAreNeverFresh() {
        var guarded = ObserveReplayGuard(window: 30_000, capacity: 10)
        #expect(guarded.admit(nonce: [1, 2, 3], timestamp: now, now: now) == .replayed)
        #expect(guarded.admit(nonce: [], timestamp: now, now: now) == .replayed)
        #expect(guarded.admit(nonce: nonce(1), timestamp: .min, now: now) == .outsideWindow)
        #expect(guarded.admit(nonce: nonce(1), timestamp: .max, now: now) == .outsideWindow)
        #expect(guarded.admit(nonce: nonce(1), timestamp: 0, now: .min) == .outsideWindow, "a clock at the end of time")
        #expect(guarded.admit(nonce: nonce(1), timestamp: .max, now: .max) == .outsideWindow)
        #expect(guarded.count == 0)
        #expect(ObserveReplayGuard.second(of: -1) == -1 && ObserveReplayGuard.second(of: -1_000) == -1 && ObserveReplayGuard.second(of: -1_001) == -2)
        #expect(ObserveReplayGuard.second(of: 999) == 0 && ObserveReplayGuard.second(of: 1_000) == 1)
    }

    @Test func theTimestampIsSignedAndMalformedRequestsDoNotDecode() throws {
        let identity = NodeIdentity.ephemeral()
        let authenticator = UDPDatagramAuthenticator(secret: "s3cret")
        let request = UDPObserveRequest(identity: identity, nonce: nonce(7), timestamp: now)
        let datagram = try request.encoded(signedBy: identity, authenticator: authenticator)
        #expect(datagram.count == UDPObserveRequest.size)
        #expect(UDPObserveRequest.decode(datagram, authenticator: authenticator) == request)
        // Another timestamp with a fresh MAC (a client holding the cluster secret): the signature fails.
        var moved = datagram
        moved[1 + 16 + 16 + 7] ^= 0x01
        let signedPart = UDPObserveRequest.size - UDPDatagramAuthenticator.macSize - UDPObserveRequest.signatureSize
        moved.replaceSubrange(signedPart..<(signedPart + UDPDatagramAuthenticator.macSize), with: authenticator.mac(Array(moved[0..<signedPart])))
        let unsigned = try #require(UDPObserveRequest.decodeUnsigned(moved, authenticator: authenticator))
        #expect(unsigned.timestamp == now + 1)
        #expect(!UDPObserveRequest.isSigned(moved))
        #expect(UDPObserveRequest.decode(moved, authenticator: authenticator) == nil)
        // Truncated, extended, another secret, another kind.
        #expect(UDPObserveRequest.decode(Array(datagram.dropLast()), authenticator: authenticator) == nil)
        #expect(UDPObserveRequest.decode(datagram + [0], authenticator: authenticator) == nil)
        #expect(UDPObserveRequest.decode(datagram, authenticator: UDPDatagramAuthenticator(secret: "other")) == nil)
        #expect(UDPObserveRequest.decode([0xD2] + datagram.dropFirst(), authenticator: authenticator) == nil)
        #expect(UDPObserveRequest.decode([], authenticator: authenticator) == nil)
        #expect(UDPObserveRequest.legacyClient(datagram, authenticator: authenticator) == nil, "a current request is not a legacy one")
    }
}
