/// A hole-punching probe, or the acknowledgement of one.
///
/// On the wire: kind (probe or probe-ack) ‖ token length (1) ‖ token ‖ tag (8, big-endian). The
/// token is the secret both peers were given for this attempt; the tag is random per attempt and
/// an acknowledgement echoes the probe's, so a side recognises both its own probes looping back
/// and the answers to them.
package struct UDPProbe: Sendable, Equatable {
    /// Token lengths accepted.
    static let tokenLengths = 1...64

    package let isAcknowledgement: Bool
    package let token: [UInt8]
    package let tag: UInt64

    package init(isAcknowledgement: Bool, token: [UInt8], tag: UInt64) {
        self.isAcknowledgement = isAcknowledgement
        self.token = token
        self.tag = tag
    }

    package var encoded: [UInt8] {
        let kind: UDPDatagramKind = isAcknowledgement ? .probeAck : .probe
        var bytes = [kind.rawValue, UInt8(token.count)] + token
        withUnsafeBytes(of: tag.bigEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The acknowledgement of this probe.
    var acknowledgement: UDPProbe { UDPProbe(isAcknowledgement: true, token: token, tag: tag) }

    /// The probe in `datagram`, or nil if it is malformed.
    package static func decode(_ datagram: [UInt8]) -> UDPProbe? {
        guard datagram.count >= 2 else { return nil }
        let isAcknowledgement: Bool
        switch datagram[0] {
        case UDPDatagramKind.probe.rawValue: isAcknowledgement = false
        case UDPDatagramKind.probeAck.rawValue: isAcknowledgement = true
        default: return nil
        }
        let tokenLength = Int(datagram[1])
        guard tokenLengths.contains(tokenLength), datagram.count == 2 + tokenLength + 8 else { return nil }
        let tag = datagram[(2 + tokenLength)...].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return UDPProbe(isAcknowledgement: isAcknowledgement, token: Array(datagram[2..<(2 + tokenLength)]), tag: tag)
    }
}
