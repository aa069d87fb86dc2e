/// One end of a KCP conversation: a reliable, ordered, flow- and congestion-controlled message
/// protocol over unreliable datagrams, wire-compatible with the reference `ikcp.c` in message
/// mode.
///
/// The session is a pure value: no sockets, clocks or threads. The caller
/// - feeds it datagrams from the peer with `input(datagram:)` and messages with `send(message:)`,
/// - calls `update(current:)` with its clock (milliseconds, wrapping) every `interval` or at the
///   time `check(current:)` names,
/// - transmits what `drainOutbox()` returns and takes messages with `receive()`.
///
/// ```swift
/// var session = try ReliableDatagramSession(settings: .fast(conversation: 7))
/// try session.send(message: Array("hello".utf8))
/// session.update(current: clock())
/// for datagram in session.drainOutbox() { socket.send(datagram) }
/// // … on arrival:
/// try session.input(datagram: bytes)
/// while let message = session.receive() { handle(message) }
/// ```
public struct ReliableDatagramSession: Sendable {
    /// The settings the session was created with.
    public let settings: ReliableDatagramSettings

    // MARK: Sending (`snd_queue`, `snd_buf`, `snd_una`, `snd_nxt`)

    /// Fragments waiting for room in the window.
    var sendQueue = SegmentQueue()
    /// Fragments sent and not yet acknowledged, in sequence order.
    var sendBuffer: [Segment] = []
    /// The oldest unacknowledged sequence number.
    var sendUnacknowledged: UInt32 = 0
    /// The sequence number the next fragment gets.
    var sendNext: UInt32 = 0

    // MARK: Receiving (`rcv_buf`, `rcv_queue`, `rcv_nxt`, `acklist`)

    /// Fragments that arrived ahead of `receiveNext`, in sequence order.
    var receiveBuffer: [Segment] = []
    /// In-order fragments waiting for `receive()`.
    var receiveQueue = SegmentQueue()
    /// The next sequence number expected from the peer.
    var receiveNext: UInt32 = 0
    /// Acknowledgements (sequence, timestamp) to send on the next flush.
    var pendingAcknowledgements: [(sequence: UInt32, timestamp: UInt32)] = []

    // MARK: Timing

    var current: UInt32 = 0
    var updated = false
    var flushAt: UInt32 = 0
    var smoothedRoundTrip = 0
    var roundTripVariance = 0
    /// The current retransmission timeout estimate (`rx_rto`), in milliseconds.
    public internal(set) var retransmissionTimeout = 200

    // MARK: Flow and congestion control

    /// The peer's free receive window as last announced (`rmt_wnd`).
    public internal(set) var remoteWindow = 128
    /// The congestion window in segments (`cwnd`); only limits sending when
    /// `settings.congestionControl` is on.
    public internal(set) var congestionWindow = 1
    var slowStartThreshold = 2
    /// Bytes of window growth accumulated in congestion avoidance (`incr`).
    var congestionIncrement: Int
    var askForWindow = false
    var tellWindow = false
    var probeWait: UInt32 = 0
    var probeAt: UInt32 = 0

    // MARK: Outputs

    var outbox: [[UInt8]] = []
    /// Whether some segment was sent `settings.deadLink` times without being acknowledged
    /// (`state == -1` in `ikcp.c`). The session keeps working; the caller decides to give up.
    public internal(set) var isDeadLink = false
    /// Retransmissions after a timeout, over the session's life (`xmit`).
    public internal(set) var timeoutRetransmissions = 0

    /// Creates a session; throws `.invalidSettings` for settings KCP does not support.
    public init(settings: ReliableDatagramSettings) throws(ReliableDatagramError) {
        try settings.validate()
        self.settings = settings
        congestionIncrement = settings.maximumSegmentSize
    }

    /// The conversation id of a datagram, or nil if it is too short to carry one (`ikcp_getconv`);
    /// lets a caller route datagrams to sessions.
    public static func conversation(of datagram: [UInt8]) -> UInt32? {
        guard datagram.count >= 4 else { return nil }
        return UInt32(datagram[0]) | UInt32(datagram[1]) << 8 | UInt32(datagram[2]) << 16 | UInt32(datagram[3]) << 24
    }

    // MARK: Application side

    /// Queues a message. Messages longer than one segment are split into fragments whose `frg`
    /// counts down to 0; the peer hands the message out whole. Empty messages are allowed.
    ///
    /// - Throws: `.messageTooLarge` beyond `settings.maximumMessageSize`.
    public mutating func send(message: [UInt8]) throws(ReliableDatagramError) {
        let mss = settings.maximumSegmentSize
        let count = message.isEmpty ? 1 : (message.count + mss - 1) / mss
        guard count < ReliableDatagramSettings.fragmentLimit else {
            throw .messageTooLarge(size: message.count, limit: settings.maximumMessageSize)
        }
        for index in 0..<count {
            let start = index * mss
            let end = min(start + mss, message.count)
            let fragment = UInt8(count - index - 1)
            sendQueue.append(Segment(fragment: fragment, payload: Array(message[start..<end])))
        }
    }

    /// The next complete message, in order, or nil if none has arrived in full yet
    /// (`ikcp_recv`). Taking messages frees receive window, so a caller that stops receiving
    /// eventually stops the peer.
    public mutating func receive() -> [UInt8]? {
        guard let size = nextMessageSize else { return nil }
        let windowWasFull = receiveQueue.count >= settings.receiveWindow
        var message: [UInt8] = []
        message.reserveCapacity(size)
        while let segment = receiveQueue.popFirst() {
            message.append(contentsOf: segment.payload)
            if segment.fragment == 0 { break }
        }
        moveReceivedInOrder()
        if windowWasFull, receiveQueue.count < settings.receiveWindow {
            // Tell the peer at once that the window reopened instead of waiting for its probe.
            tellWindow = true
        }
        return message
    }

    /// Takes every complete message received so far, in order.
    public mutating func drainMessages() -> [[UInt8]] {
        var messages: [[UInt8]] = []
        while let message = receive() { messages.append(message) }
        return messages
    }

    /// Size of the next complete message, or nil if none is complete (`ikcp_peeksize`).
    public var nextMessageSize: Int? {
        guard let first = receiveQueue.first else { return nil }
        if first.fragment == 0 { return first.payload.count }
        guard receiveQueue.count >= Int(first.fragment) + 1 else { return nil }
        var size = 0
        for offset in 0..<receiveQueue.count {
            let segment = receiveQueue[offset]
            size += segment.payload.count
            if segment.fragment == 0 { break }
        }
        return size
    }

    /// Takes the datagrams to transmit to the peer, in order.
    public mutating func drainOutbox() -> [[UInt8]] {
        defer { outbox.removeAll() }
        return outbox
    }

    /// Fragments queued or in flight and not yet acknowledged (`ikcp_waitsnd`).
    public var waitingToSend: Int { sendQueue.count + sendBuffer.count }

    /// Receive window not taken by undelivered fragments; announced in every segment.
    var unusedReceiveWindow: Int { max(settings.receiveWindow - receiveQueue.count, 0) }

    /// Moves fragments that are next in sequence from the reorder buffer to the delivery queue.
    mutating func moveReceivedInOrder() {
        while let first = receiveBuffer.first, first.sequence == receiveNext,
            receiveQueue.count < settings.receiveWindow
        {
            receiveQueue.append(receiveBuffer.removeFirst())
            receiveNext &+= 1
        }
    }
}
