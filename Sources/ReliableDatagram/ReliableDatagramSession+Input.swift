extension ReliableDatagramSession {
    /// Processes a datagram from the peer (`ikcp_input`): acknowledgements, data, window
    /// announcements and probes.
    ///
    /// The whole datagram is validated before any segment takes effect, so a malformed one is
    /// dropped without changing the session (`ikcp.c` would apply the segments before the bad
    /// one). Acknowledgements and window updates go out with the next flush; call `flush()` to
    /// send them at once.
    ///
    /// - Throws: `.wrongConversation`, `.truncatedHeader` (also for trailing bytes),
    ///   `.truncatedPayload`, `.unknownCommand`, `.fragmentOutOfRange`.
    public mutating func input(datagram: [UInt8]) throws(ReliableDatagramError) {
        let segments = try decode(datagram)
        let previousUnacknowledged = sendUnacknowledged
        var latestAcknowledgement: (sequence: UInt32, timestamp: UInt32)?

        for (header, payload) in segments {
            remoteWindow = Int(header.window)
            acknowledgeAll(before: header.unacknowledged)
            switch header.command {
            case .acknowledge:
                let roundTrip = current.wrappingDistance(since: header.timestamp)
                if roundTrip >= 0 { updateRoundTrip(sample: roundTrip) }
                acknowledge(header.sequence)
                // Fast-retransmit bookkeeping only trusts the newest ack that is also later in
                // time, so reordered acks do not trigger spurious resends (IKCP_FASTACK_CONSERVE).
                if let latest = latestAcknowledgement {
                    if header.sequence.wrappingDistance(since: latest.sequence) > 0,
                        header.timestamp.wrappingDistance(since: latest.timestamp) > 0
                    {
                        latestAcknowledgement = (header.sequence, header.timestamp)
                    }
                } else {
                    latestAcknowledgement = (header.sequence, header.timestamp)
                }
            case .push:
                let windowEnd = receiveNext &+ UInt32(settings.receiveWindow)
                if header.sequence.wrappingDistance(since: windowEnd) < 0 {
                    // Acknowledged even when already received: the earlier ack may have been lost.
                    pendingAcknowledgements.append((header.sequence, header.timestamp))
                    if header.sequence.wrappingDistance(since: receiveNext) >= 0 {
                        var segment = Segment(fragment: header.fragment, payload: Array(payload))
                        segment.sequence = header.sequence
                        segment.timestamp = header.timestamp
                        insertReceived(segment)
                    }
                }
            case .windowProbe:
                tellWindow = true
            case .windowSize:
                break  // The window itself was taken from the header above.
            }
        }

        if let latest = latestAcknowledgement {
            countFastAcknowledgements(upTo: latest.sequence, timestamp: latest.timestamp)
        }
        if sendUnacknowledged.wrappingDistance(since: previousUnacknowledged) > 0 {
            growCongestionWindow()
        }
    }

    /// Splits a datagram into headers and payloads, or throws for the first defect.
    private func decode(_ datagram: [UInt8]) throws(ReliableDatagramError) -> [(SegmentHeader, ArraySlice<UInt8>)] {
        var segments: [(SegmentHeader, ArraySlice<UInt8>)] = []
        var offset = 0
        repeat {
            let header = try SegmentHeader(decoding: datagram, at: offset, conversation: settings.conversation)
            if header.command == .push, Int(header.fragment) >= settings.receiveWindow {
                throw .fragmentOutOfRange(header.fragment, offset: offset, limit: settings.receiveWindow - 1)
            }
            let start = offset + SegmentHeader.size
            let end = start + Int(header.length)
            segments.append((header, datagram[start..<end]))
            offset = end
        } while offset < datagram.count
        return segments
    }

    /// Drops every in-flight segment before `una` (`ikcp_parse_una` + `ikcp_shrink_buf`).
    private mutating func acknowledgeAll(before una: UInt32) {
        var acknowledged = 0
        for segment in sendBuffer {
            guard una.wrappingDistance(since: segment.sequence) > 0 else { break }
            acknowledged += 1
        }
        if acknowledged > 0 { sendBuffer.removeFirst(acknowledged) }
        shrinkSendBuffer()
    }

    /// Drops the in-flight segment `sequence` (`ikcp_parse_ack` + `ikcp_shrink_buf`).
    private mutating func acknowledge(_ sequence: UInt32) {
        guard sequence.wrappingDistance(since: sendUnacknowledged) >= 0,
            sequence.wrappingDistance(since: sendNext) < 0
        else { return }
        for index in sendBuffer.indices {
            let candidate = sendBuffer[index].sequence
            if candidate == sequence {
                sendBuffer.remove(at: index)
                break
            }
            if sequence.wrappingDistance(since: candidate) < 0 { break }
        }
        shrinkSendBuffer()
    }

    private mutating func shrinkSendBuffer() {
        sendUnacknowledged = sendBuffer.first?.sequence ?? sendNext
    }

    /// Counts, for each segment sent before `sequence` and not yet acknowledged, that a later one
    /// was (`ikcp_parse_fastack`).
    private mutating func countFastAcknowledgements(upTo sequence: UInt32, timestamp: UInt32) {
        guard sequence.wrappingDistance(since: sendUnacknowledged) >= 0,
            sequence.wrappingDistance(since: sendNext) < 0
        else { return }
        for index in sendBuffer.indices {
            let segment = sendBuffer[index]
            if sequence.wrappingDistance(since: segment.sequence) < 0 { break }
            if segment.sequence != sequence, timestamp.wrappingDistance(since: segment.timestamp) >= 0 {
                sendBuffer[index].fastAcknowledgements += 1
            }
        }
    }

    /// Stores a pushed fragment in sequence order, ignoring duplicates (`ikcp_parse_data`).
    private mutating func insertReceived(_ segment: Segment) {
        let sequence = segment.sequence
        let windowEnd = receiveNext &+ UInt32(settings.receiveWindow)
        guard sequence.wrappingDistance(since: windowEnd) < 0,
            sequence.wrappingDistance(since: receiveNext) >= 0
        else { return }
        var index = receiveBuffer.count
        while index > 0 {
            let previous = receiveBuffer[index - 1].sequence
            if previous == sequence { return }
            if sequence.wrappingDistance(since: previous) > 0 { break }
            index -= 1
        }
        receiveBuffer.insert(segment, at: index)
        moveReceivedInOrder()
    }

    /// RFC 6298-style smoothing (`ikcp_update_ack`), in Int so hostile timestamps cannot overflow.
    private mutating func updateRoundTrip(sample: Int) {
        if smoothedRoundTrip == 0 {
            smoothedRoundTrip = sample
            roundTripVariance = sample / 2
        } else {
            let delta = abs(sample - smoothedRoundTrip)
            roundTripVariance = (3 * roundTripVariance + delta) / 4
            smoothedRoundTrip = max((7 * smoothedRoundTrip + sample) / 8, 1)
        }
        let rto = smoothedRoundTrip + max(Int(settings.interval), 4 * roundTripVariance)
        retransmissionTimeout = min(max(rto, minimumRetransmissionTimeout), Self.maximumRetransmissionTimeout)
    }

    /// Slow start below `ssthresh`, then additive increase, capped by the peer's window.
    private mutating func growCongestionWindow() {
        guard congestionWindow < remoteWindow else { return }
        let mss = settings.maximumSegmentSize
        if congestionWindow < slowStartThreshold {
            congestionWindow += 1
            congestionIncrement += mss
        } else {
            congestionIncrement = max(congestionIncrement, mss)
            congestionIncrement += (mss * mss) / congestionIncrement + mss / 16
            if (congestionWindow + 1) * mss <= congestionIncrement {
                congestionWindow = (congestionIncrement + mss - 1) / mss
            }
        }
        if congestionWindow > remoteWindow {
            congestionWindow = remoteWindow
            congestionIncrement = remoteWindow * mss
        }
    }
}
