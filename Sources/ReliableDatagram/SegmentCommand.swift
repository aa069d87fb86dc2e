/// The `cmd` byte of a KCP segment header.
public enum SegmentCommand: UInt8, Sendable, CaseIterable {
    /// Data (`IKCP_CMD_PUSH`).
    case push = 81
    /// Acknowledgement of one pushed segment (`IKCP_CMD_ACK`).
    case acknowledge = 82
    /// Window probe: asks the peer to tell its receive window (`IKCP_CMD_WASK`).
    case windowProbe = 83
    /// Window announcement, the answer to a probe (`IKCP_CMD_WINS`).
    case windowSize = 84
}
