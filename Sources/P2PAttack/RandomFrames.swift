import ClientProtocol
import NIOCore
import P2PCore
import Transport
import WireCodec

/// Random frames with valid length prefixes, seeded so that a run can be replayed.
struct RandomFrames {
    var generator: SplitMix64

    init(seed: UInt64) {
        generator = SplitMix64(seed: seed)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            let word = generator.next()
            withUnsafeBytes(of: word) { bytes.append(contentsOf: $0.prefix(count - bytes.count)) }
        }
        return bytes
    }

    /// A payload size: mostly small, sometimes large.
    mutating func size(small: Int, large: Int) -> Int {
        Int.random(in: 0...100, using: &generator) < 95 ? Int.random(in: 0...small, using: &generator) : Int.random(in: 0...large, using: &generator)
    }

    /// Raw bytes of one frame for an unauthenticated connection: a valid length prefix, a version
    /// that is usually right, a type that is often a handshake type, a random body (sometimes
    /// over the pre-handshake limit).
    mutating func preHandshakeFrame() -> ByteBuffer {
        let roll = Int.random(in: 0..<100, using: &generator)
        let version: UInt8 = roll < 85 ? Frame.protocolVersion : UInt8.random(in: 0...255, using: &generator)
        let type: UInt8 = switch Int.random(in: 0..<10, using: &generator) {
        case 0..<4: 1  // hello
        case 4..<6: 2  // authentication
        case 6: 3  // sealed
        default: UInt8.random(in: 0...255, using: &generator)
        }
        let body = bytes(size(small: 1000, large: 70_000))
        var buffer = RawConnection.header(announcing: UInt32(2 + body.count), type: type, version: version)
        buffer.writeBytes(body)
        return buffer
    }

    /// One application frame for an authenticated client link: often a client request with a
    /// valid version and tag and random fields, otherwise any application type.
    mutating func applicationFrame() -> (type: UInt8, bytes: [UInt8]) {
        let roll = Int.random(in: 0..<100, using: &generator)
        let body = bytes(size(small: 2000, large: 300_000))
        if roll < 50 {
            return (ClientProtocol.requestFrame, [1, UInt8.random(in: 1...7, using: &generator)] + body)
        }
        let type = UInt8.random(in: Link.firstApplicationType...255, using: &generator)
        return (type, body)
    }
}
