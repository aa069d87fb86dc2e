extension ReliableDatagramSession {
    static let maximumRetransmissionTimeout = 60_000
    /// First wait before probing a zero remote window, and the floor of its backoff.
    static let probeInitialWait: UInt32 = 5_000
    static let probeMaximumWait: UInt32 = 120_000
    static let minimumSlowStartThreshold = 2
    /// Caps a segment's own RTO so its resend time stays within the wrapping clock's half range.
    static let maximumSegmentTimeout = Int(Int32.max / 2)

    var minimumRetransmissionTimeout: Int { settings.noDelay == .off ? 100 : 30 }

    /// Advances the session's clock to `current` (milliseconds, wrapping at 2^32) and flushes when
    /// an `interval` has passed (`ikcp_update`). Call it every `interval` or at `check(current:)`.
    public mutating func update(current now: UInt32) {
        current = now
        if !updated {
            updated = true
            flushAt = now
        }
        var slap = now.wrappingDistance(since: flushAt)
        if slap >= 10_000 || slap < -10_000 {
            // The clock jumped: resynchronise instead of flushing in a burst or never.
            flushAt = now
            slap = 0
        }
        if slap >= 0 {
            flushAt &+= settings.interval
            if now.wrappingDistance(since: flushAt) >= 0 { flushAt = now &+ settings.interval }
            flush()
        }
    }

    /// When to call `update(current:)` next if no input or send happens meanwhile
    /// (`ikcp_check`): the next flush or retransmission time, at most one `interval` away.
    public func check(current now: UInt32) -> UInt32 {
        guard updated else { return now }
        var flushTime = flushAt
        let sinceFlush = now.wrappingDistance(since: flushTime)
        if sinceFlush >= 10_000 || sinceFlush < -10_000 { flushTime = now }
        if now.wrappingDistance(since: flushTime) >= 0 { return now }
        var wait = flushTime.wrappingDistance(since: now)
        for segment in sendBuffer {
            let untilResend = segment.resendAt.wrappingDistance(since: now)
            if untilResend <= 0 { return now }
            wait = min(wait, untilResend)
        }
        return now &+ UInt32(min(wait, Int(settings.interval)))
    }

    /// Emits, into the outbox, pending acknowledgements, window probes and announcements, new
    /// fragments the windows allow, and retransmissions that are due (`ikcp_flush`). Does nothing
    /// before the first `update(current:)`.
    public mutating func flush() {
        guard updated else { return }
        var builder = DatagramBuilder(mtu: settings.mtu)
        let window = UInt16(clamping: unusedReceiveWindow)
        var control = SegmentHeader(
            conversation: settings.conversation, command: .acknowledge, window: window, unacknowledged: receiveNext
        )

        for acknowledgement in pendingAcknowledgements {
            control.sequence = acknowledgement.sequence
            control.timestamp = acknowledgement.timestamp
            builder.append(control)
        }
        pendingAcknowledgements.removeAll(keepingCapacity: true)
        control.sequence = 0
        control.timestamp = 0

        scheduleWindowProbe()
        if askForWindow {
            control.command = .windowProbe
            builder.append(control)
        }
        if tellWindow {
            control.command = .windowSize
            builder.append(control)
        }
        askForWindow = false
        tellWindow = false

        admitQueuedFragments()
        let (fastRetransmits, timedOut) = transmitDue(into: &builder, announcing: window)
        outbox.append(contentsOf: builder.finish())
        adjustCongestionWindow(fastRetransmits: fastRetransmits, timedOut: timedOut)
    }

    /// While the peer announces a zero window, asks it for its window with exponential backoff.
    private mutating func scheduleWindowProbe() {
        guard remoteWindow == 0 else {
            probeAt = 0
            probeWait = 0
            return
        }
        if probeWait == 0 {
            probeWait = Self.probeInitialWait
            probeAt = current &+ probeWait
        } else if current.wrappingDistance(since: probeAt) >= 0 {
            probeWait = max(probeWait, Self.probeInitialWait)
            probeWait = min(probeWait + probeWait / 2, Self.probeMaximumWait)
            probeAt = current &+ probeWait
            askForWindow = true
        }
    }

    /// Moves queued fragments into flight while the send, remote and congestion windows allow.
    private mutating func admitQueuedFragments() {
        var limit = min(settings.sendWindow, remoteWindow)
        if settings.congestionControl { limit = min(limit, congestionWindow) }
        while sendNext.wrappingDistance(since: sendUnacknowledged) < limit, var segment = sendQueue.popFirst() {
            segment.sequence = sendNext
            segment.timestamp = current
            segment.resendAt = current
            segment.rto = retransmissionTimeout
            sendNext &+= 1
            sendBuffer.append(segment)
        }
    }

    /// Sends fragments never sent, timed out, or skipped by `fastResend` later acknowledgements.
    /// Returns how many were fast-retransmitted and whether any timed out.
    private mutating func transmitDue(
        into builder: inout DatagramBuilder, announcing window: UInt16
    ) -> (fastRetransmits: Int, timedOut: Bool) {
        let fastResend = settings.fastResend > 0 ? settings.fastResend : Int.max
        let firstDelay = settings.noDelay == .off ? retransmissionTimeout >> 3 : 0
        var fastRetransmits = 0
        var timedOut = false

        for index in sendBuffer.indices {
            var segment = sendBuffer[index]
            var due = false
            if segment.transmissions == 0 {
                due = true
                segment.rto = retransmissionTimeout
                segment.resendAt = current &+ UInt32(segment.rto + firstDelay)
            } else if current.wrappingDistance(since: segment.resendAt) >= 0 {
                due = true
                timeoutRetransmissions += 1
                let step: Int
                switch settings.noDelay {
                case .off: step = max(segment.rto, retransmissionTimeout)
                case .on: step = segment.rto / 2
                case .aggressive: step = retransmissionTimeout / 2
                }
                segment.rto = min(segment.rto + step, Self.maximumSegmentTimeout)
                segment.resendAt = current &+ UInt32(segment.rto)
                timedOut = true
            } else if segment.fastAcknowledgements >= fastResend,
                segment.transmissions <= settings.fastResendLimit || settings.fastResendLimit <= 0
            {
                due = true
                segment.fastAcknowledgements = 0
                segment.resendAt = current &+ UInt32(segment.rto)
                fastRetransmits += 1
            }
            guard due else { continue }

            segment.transmissions += 1
            segment.timestamp = current
            builder.append(
                SegmentHeader(
                    conversation: settings.conversation, command: .push, fragment: segment.fragment,
                    window: window, timestamp: current, sequence: segment.sequence,
                    unacknowledged: receiveNext, length: UInt32(segment.payload.count)
                ),
                payload: segment.payload
            )
            if segment.transmissions >= settings.deadLink { isDeadLink = true }
            sendBuffer[index] = segment
        }
        return (fastRetransmits, timedOut)
    }

    /// Halves the window on fast retransmit (fast recovery) and collapses it to 1 on a timeout.
    private mutating func adjustCongestionWindow(fastRetransmits: Int, timedOut: Bool) {
        let mss = settings.maximumSegmentSize
        if fastRetransmits > 0 {
            let inFlight = Int(sendNext &- sendUnacknowledged)
            slowStartThreshold = max(inFlight / 2, Self.minimumSlowStartThreshold)
            congestionWindow = slowStartThreshold + settings.fastResend
            congestionIncrement = congestionWindow * mss
        }
        if timedOut {
            slowStartThreshold = max(congestionWindow / 2, Self.minimumSlowStartThreshold)
            congestionWindow = 1
            congestionIncrement = mss
        }
        if congestionWindow < 1 {
            congestionWindow = 1
            congestionIncrement = mss
        }
    }
}
