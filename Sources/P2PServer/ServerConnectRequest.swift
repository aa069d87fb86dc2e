import P2PCore

/// A server asks a member it is linked to for an introduction to a server it cannot dial: by id
/// when it knows it (a member), else by the address that server said it is reached at (a
/// configured peer during bootstrap).
package struct ServerConnectRequest: Equatable, Sendable {
    package var target: NodeID?
    package var address: String

    package func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(optional: target) { $0.write($1) }
        writer.write(address)
        return writer.bytes
    }

    package init(target: NodeID?, address: String) {
        self.target = target
        self.address = address
    }

    package init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes, maximumFieldLength: 256)
        target = try reader.readOptional("connect.target") { r throws(DecodingError) in try r.readNodeID("connect.target") }
        address = try reader.readString("connect.address")
        try reader.expectEnd()
    }
}
