/// A server's answer to a ``UDPObserveRequest``: the source address it saw.
///
/// On the wire: kind ‖ nonce (16) ‖ address length (1) ‖ address (UTF-8 `ip:port`) ‖ MAC (32) over
/// everything before it. The nonce ties the reply to one request, so stale replies are ignored.
package struct UDPObserveReply: Sendable, Equatable {
    /// The longest address carried (an IPv6 address with a port is at most 47 characters).
    static let maximumAddressLength = 64

    package let nonce: [UInt8]
    package let address: String

    package init(nonce: [UInt8], address: String) {
        self.nonce = nonce
        self.address = address
    }

    /// The datagram, authenticated with the cluster secret.
    package func encoded(authenticator: UDPDatagramAuthenticator) -> [UInt8] {
        let addressBytes = Array(address.utf8.prefix(Self.maximumAddressLength))
        let message = [UDPDatagramKind.observeReply.rawValue] + nonce + [UInt8(addressBytes.count)] + addressBytes
        return message + authenticator.mac(message)
    }

    /// The reply in `datagram` if it is well formed and proves the cluster secret; nil otherwise.
    package static func decode(_ datagram: [UInt8], authenticator: UDPDatagramAuthenticator) -> UDPObserveReply? {
        let headerSize = 1 + UDPObserveRequest.nonceSize + 1
        guard datagram.count > headerSize + UDPDatagramAuthenticator.macSize,
              datagram.first == UDPDatagramKind.observeReply.rawValue
        else { return nil }
        let addressLength = Int(datagram[headerSize - 1])
        guard datagram.count == headerSize + addressLength + UDPDatagramAuthenticator.macSize else { return nil }
        let messageEnd = headerSize + addressLength
        guard authenticator.isValid(mac: datagram[messageEnd...], for: datagram[..<messageEnd]),
              let address = String(validating: datagram[headerSize..<messageEnd], as: UTF8.self)
        else { return nil }
        return UDPObserveReply(nonce: Array(datagram[1..<(1 + UDPObserveRequest.nonceSize)]), address: address)
    }
}
