import P2PCore

/// A server frame carried through another member for a pair of servers without a link of their
/// own. Sent to the relay as ``ServerFrameType/relay`` with `peer` = the destination; the relay
/// passes it on as ``ServerFrameType/relayed`` with `peer` = the origin (the link it came on).
package struct RelayedFrame: Equatable, Sendable {
    package let peer: NodeID
    package let type: UInt8
    package let bytes: [UInt8]

    package func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(peer)
        writer.write(type)
        writer.write(lengthPrefixed: bytes)
        return writer.bytes
    }

    package init(peer: NodeID, type: UInt8, bytes: [UInt8]) {
        self.peer = peer
        self.type = type
        self.bytes = bytes
    }

    package init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        peer = try reader.readNodeID("relay.peer")
        type = try reader.readUInt8("relay.type")
        self.bytes = try reader.readLengthPrefixed("relay.bytes")
        try reader.expectEnd()
    }
}
