/// A push segment as the session keeps it: header fields, payload and, on the sending side, its
/// retransmission state.
struct Segment: Sendable {
    var fragment: UInt8
    var timestamp: UInt32 = 0
    var sequence: UInt32 = 0
    var payload: [UInt8]

    /// When to retransmit unless acknowledged (`resendts`).
    var resendAt: UInt32 = 0
    /// This segment's own retransmission timeout, grown on each timeout.
    var rto = 0
    /// Later segments acknowledged while this one was not (`fastack`).
    var fastAcknowledgements = 0
    /// Times sent (`xmit`).
    var transmissions = 0

    init(fragment: UInt8, payload: [UInt8]) {
        self.fragment = fragment
        self.payload = payload
    }
}
