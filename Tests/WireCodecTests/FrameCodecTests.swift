import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
@testable import WireCodec

@Suite struct FrameCodecTests {
    private func encode(_ frames: [Frame]) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        for frame in frames { try FrameEncoder().encode(data: frame, out: &buffer) }
        return buffer
    }

    @Test func framesSurviveAnySplitOfTheStream() throws {
        let frames = [Frame(type: 16, bytes: []), Frame(type: 17, bytes: Array(0..<200)), Frame(type: 255, bytes: [1])]
        var pairs: [(ByteBuffer, [Frame])] = []
        for frame in frames { pairs.append((try encode([frame]), [frame])) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder(maximumFrameSize: 1024) }
    }

    @Test func anOversizedFrameIsRefusedFromItsLengthAlone() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maximumFrameSize: 100)))
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(1 << 30))  // claims 1 GiB; only the prefix is sent
        #expect(throws: WireError.frameTooLarge(length: 1 << 30, maximum: 100)) { try channel.writeInbound(buffer) }
    }

    @Test func aRaisedLimitAdmitsLargerFramesFromThenOn() throws {
        let limit = FrameSizeLimit(16)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(limit: limit)))
        let small = Frame(type: 1, bytes: Array(0..<10))
        try channel.writeInbound(try encode([small]))
        #expect(try channel.readInbound(as: Frame.self) == small)
        limit.set(1024)
        let large = Frame(type: 3, bytes: Array(repeating: 7, count: 1000))
        try channel.writeInbound(try encode([large]))
        #expect(try channel.readInbound(as: Frame.self) == large)

        let strict = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(limit: FrameSizeLimit(16))))
        var prefix = ByteBuffer()
        prefix.writeInteger(UInt32(1002))  // only the length prefix: refused before any payload
        #expect(throws: WireError.frameTooLarge(length: 1002, maximum: 16)) { try strict.writeInbound(prefix) }
    }

    @Test func anUnknownVersionAndAShortFrameAreErrors() throws {
        var wrongVersion = ByteBuffer()
        wrongVersion.writeInteger(UInt32(3))
        wrongVersion.writeBytes([9, 16, 0])
        let first = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        #expect(throws: WireError.unsupportedVersion(9)) { try first.writeInbound(wrongVersion) }

        var short = ByteBuffer()
        short.writeInteger(UInt32(1))
        short.writeBytes([1])
        let second = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        #expect(throws: WireError.truncated) { try second.writeInbound(short) }
    }

    @Test func randomGarbageNeverTraps() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maximumFrameSize: 4096)))
            let garbage = (0..<Int.random(in: 1...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? channel.writeInbound(ByteBuffer(bytes: garbage))
            _ = try? channel.finish()
        }
    }
}
