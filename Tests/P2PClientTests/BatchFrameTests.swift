import ClientProtocol
import ClusterHarness
import MessageModel
import P2PCore
import Testing

/// The batch frames on client links (``ClientRequest/batch(_:)``, ``ServerPush/batch(_:)``) and
/// the announcement that allows them (``LinkFeatures``): they round-trip, and a decoder refuses
/// any batch outside ``FrameBatch``'s bounds or holding what may not be batched.
@Suite struct BatchFrameTests {
    let sender = NodeID.random()
    let recipient = NodeID.random()

    func message(_ sequence: UInt64, size: Int = 8) -> MailMessage {
        MailMessage(id: MessageID(sender: sender, sequence: sequence), recipient: recipient, payload: [UInt8](repeating: 7, count: size), enqueuedAtMillis: 5)
    }

    @Test func requestAndPushBatchesRoundTrip() throws {
        let requests = ClientRequest.batch([
            .send(request: 1, message: message(1)), .acknowledge(MessageID(sender: recipient, sequence: 4)), .send(request: 2, message: message(2)),
        ])
        #expect(try ClientRequest(decoding: requests.encoded()) == requests)
        let pushes = ServerPush.batch([
            .sendResult(request: 1, .stored), .deliver(message(3)), .delivered(recipient: recipient, id: MessageID(sender: sender, sequence: 1)),
            .expired(recipient: recipient, id: MessageID(sender: sender, sequence: 2)), .claimResult(request: 9, .claimed),
        ])
        #expect(try ServerPush(decoding: pushes.encoded()) == pushes)
    }

    @Test func batchesOutsideTheBoundsAreRefused() throws {
        let tooMany = (0...UInt64(FrameBatch.maximumCount)).map { ClientRequest.acknowledge(MessageID(sender: recipient, sequence: $0)) }
        #expect(throws: DecodingError.self) { try ClientRequest(decoding: ClientRequest.batch(tooMany).encoded()) }
        #expect(throws: DecodingError.self) { try ClientRequest(decoding: ClientRequest.batch([]).encoded()) }
        let half = FrameBatch.maximumBytes / 2
        let tooLarge = [ClientRequest.send(request: 1, message: message(1, size: half)), .send(request: 2, message: message(2, size: half))]
        #expect(throws: DecodingError.self) { try ClientRequest(decoding: ClientRequest.batch(tooLarge).encoded()) }
        let pushes = (0...UInt64(FrameBatch.maximumCount)).map { ServerPush.sendResult(request: $0, .stored) }
        #expect(throws: DecodingError.self) { try ServerPush(decoding: ServerPush.batch(pushes).encoded()) }
    }

    @Test func onlySendsAndAcknowledgementsAreBatchedAndNeverNested() throws {
        let inner = ClientRequest.batch([.acknowledge(MessageID(sender: recipient, sequence: 1))])
        for forbidden in [ClientRequest.hello(ClientHello(subscribe: true)), .subscribe(true), .query(request: 1, .servers), inner] {
            let bytes = ClientRequest.batch([.acknowledge(MessageID(sender: recipient, sequence: 1)), forbidden]).encoded()
            #expect(throws: DecodingError.self) { try ClientRequest(decoding: bytes) }
        }
        let welcome = ServerPush.welcome(server: sender, leader: nil, clusterKey: [UInt8](repeating: 1, count: 32), proof: [UInt8](repeating: 2, count: 64))
        for forbidden in [welcome, .refused(reason: "no"), .queryResult(request: 1, .unavailable("x")), ServerPush.batch([.sendResult(request: 1, .stored)])] {
            #expect(throws: DecodingError.self) { try ServerPush(decoding: ServerPush.batch([.sendResult(request: 1, .stored), forbidden]).encoded()) }
        }
    }

    /// A frame may hold ~100,000 levels of batch in batch: each is refused before it is decoded,
    /// rather than decoded by a recursion that would overflow the stack (a crash of the server
    /// any client could cause with one frame).
    @Test func deeplyNestedBatchesAreRefusedWithoutRecursing() throws {
        let ack = ClientRequest.acknowledge(MessageID(sender: recipient, sequence: 1)).encoded()
        let requests = NestedEncoding.lengthPrefixed(oneLevel: ClientRequest.batch(encoded: [ack]), inner: ack, levels: 100_000)
        #expect(throws: DecodingError.malformed(field: "request.batch", reason: "a batch inside a batch")) { try ClientRequest(decoding: requests) }
        let result = ServerPush.sendResult(request: 1, .stored).encoded()
        let pushes = NestedEncoding.lengthPrefixed(oneLevel: ServerPush.batch(encoded: [result]), inner: result, levels: 100_000)
        #expect(throws: DecodingError.malformed(field: "push.batch", reason: "a batch inside a batch")) { try ServerPush(decoding: pushes) }
    }

    @Test func truncatedOrMutatedBatchesNeverTrap() throws {
        let bytes = ClientRequest.batch((1...20).map { .send(request: $0, message: message($0)) }).encoded()
        for length in 0..<bytes.count { _ = try? ClientRequest(decoding: Array(bytes.prefix(length))) }
        var random = SplitMix(seed: 14)
        for _ in 0..<2_000 {
            var mutated = bytes
            for _ in 0..<3 { mutated[Int(random.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: random.next()) }
            if let decoded = try? ClientRequest(decoding: mutated) {
                #expect(try ClientRequest(decoding: decoded.encoded()) == decoded)
            }
        }
    }

    @Test func packingKeepsOrderAndBothBounds() {
        let small = [UInt8](repeating: 1, count: 100)
        let groups = FrameBatch.pack(Array(repeating: small, count: 600))
        #expect(groups.map(\.count) == [256, 256, 88])
        let big = [UInt8](repeating: 2, count: FrameBatch.maximumBytes)
        let mixed = FrameBatch.pack([small, big, small, small])
        #expect(mixed.map(\.count) == [1, 1, 2])
        #expect(mixed[1][0].count == FrameBatch.maximumBytes)
    }

    @Test func featuresToleratesWhatALaterVersionAdds() throws {
        #expect(try LinkFeatures(decoding: LinkFeatures.supported.encoded()) == .supported)
        var later = ByteWriter()
        later.write(UInt8(2))
        later.write(UInt64.max)
        later.write(UInt32(99))
        #expect(try LinkFeatures(decoding: later.bytes) == .supported)
        #expect(throws: DecodingError.self) { try LinkFeatures(decoding: [1, 0, 0]) }
    }
}

/// A seeded generator for the mutation test.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
