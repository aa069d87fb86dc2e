import ClientProtocol
import P2PCore
import Transport

/// Tells the attached servers about this client's paths (``ClientRequest/pathReport(_:)``),
/// for `mailbox-admin path`: soon after a path event, and every ``pathReportInterval`` while
/// there is anything to say.
extension ClientEngine {
    /// The longest time between two reports (round-trip times change without events).
    static let pathReportInterval: Duration = .seconds(15)
    /// The least time between two reports (servers drop reports that come faster).
    static let pathReportSpacing: Duration = .seconds(1)

    /// Reports until cancelled (nothing when direct tunnels are off).
    nonisolated func reportPathsForever() async {
        guard let direct else { return }
        var reportedEvents: UInt64 = 0
        var lastReport: ContinuousClock.Instant?
        while !Task.isCancelled {
            do { try await Task.sleep(for: Self.pathReportSpacing) } catch { return }
            let events = direct.events.eventCount
            let now = ContinuousClock.now
            guard events != reportedEvents || lastReport.map({ now - $0 >= Self.pathReportInterval }) ?? false else { continue }
            let snapshot = await direct.snapshot()
            guard !snapshot.isEmpty else { continue }
            reportedEvents = events
            lastReport = now
            await sendPathReport(Self.pathReports(snapshot, now: now))
        }
    }

    private func sendPathReport(_ reports: [PathReport]) {
        let bytes = ClientRequest.pathReport(reports).encoded()
        for link in connections.links { try? link.send(type: ClientProtocol.requestFrame, bytes) }
    }

    /// The wire form of a snapshot: direct peers first, then the newest attempts, at most
    /// ``PathReport/maximumPeers``.
    static func pathReports(_ snapshot: [PeerPath], now: ContinuousClock.Instant) -> [PathReport] {
        let ordered = snapshot.sorted { lhs, rhs in
            if (lhs.path == .relay) != (rhs.path == .relay) { return rhs.path == .relay }
            return (lhs.lastAttempt?.ended ?? now - .seconds(1 << 30)) > (rhs.lastAttempt?.ended ?? now - .seconds(1 << 30))
        }
        return ordered.prefix(PathReport.maximumPeers).map { peer in
            let path: PathReport.Path = switch peer.path {
            case .lan: .lan
            case .udp: .udp
            case .relay: .relay
            }
            let attempt = peer.lastAttempt.map { attempt in
                let kind: PathReport.AttemptKind = switch attempt.kind {
                case .lan: .lan
                case .udp: .udp
                case .lanAndUDP: .lanAndUDP
                }
                return PathReport.Attempt(
                    agoMillis: (now - attempt.ended).wholeMilliseconds, kind: kind,
                    succeeded: attempt.succeeded, reason: PathReport.truncated(attempt.reason)
                )
            }
            return PathReport(
                peer: peer.peer, path: path, rttMicros: peer.rtt.map { UInt32(clamping: $0.wholeMicroseconds) },
                lossPerMille: peer.loss.map { UInt16(clamping: Int(($0 * 1000).rounded())) }, lastAttempt: attempt
            )
        }
    }
}

extension Duration {
    var wholeMicroseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds &* 1_000_000 &+ attoseconds / 1_000_000_000_000
    }
}
