import MessageModel
import P2PCore

/// What a client tells a server about its path to one peer (``ClientRequest/pathReport(_:)``),
/// for operators' diagnostics only. Untrusted: servers bound its size and rate, keep it in
/// memory only, and show it labelled as client-reported.
public struct PathReport: Equatable, Sendable {
    /// How the pair's messages travel now, as the client sees it.
    public enum Path: UInt8, Equatable, Sendable {
        case relay = 0, lan, udp
    }

    /// What was tried in an attempt at a direct path.
    public enum AttemptKind: UInt8, Equatable, Sendable {
        case lan = 1, udp, lanAndUDP

        public var name: String {
            switch self {
            case .lan: "lan"
            case .udp: "udp"
            case .lanAndUDP: "lan+udp"
            }
        }
    }

    /// The client's last attempt at a direct path to the peer.
    public struct Attempt: Equatable, Sendable {
        /// How long before the report the attempt ended (the client's clock is not trusted: the
        /// server dates it by its own).
        public var agoMillis: UInt64
        public var kind: AttemptKind
        public var succeeded: Bool
        /// What happened, at most ``PathReport/maximumReasonLength`` bytes.
        public var reason: String

        public init(agoMillis: UInt64, kind: AttemptKind, succeeded: Bool, reason: String) {
            self.agoMillis = agoMillis
            self.kind = kind
            self.succeeded = succeeded
            self.reason = reason
        }
    }

    /// Pairs in one report.
    public static let maximumPeers = 64
    /// Bytes (UTF-8) of an attempt's reason.
    public static let maximumReasonLength = 256

    public var peer: NodeID
    public var path: Path
    /// Round-trip time of the direct path in microseconds (`nil`: none measured).
    public var rttMicros: UInt32?
    /// Unanswered keepalive probes lately, in per mille (`nil`: none measured).
    public var lossPerMille: UInt16?
    public var lastAttempt: Attempt?

    public init(peer: NodeID, path: Path, rttMicros: UInt32? = nil, lossPerMille: UInt16? = nil, lastAttempt: Attempt? = nil) {
        self.peer = peer
        self.path = path
        self.rttMicros = rttMicros
        self.lossPerMille = lossPerMille
        self.lastAttempt = lastAttempt
    }

    func encode(into writer: inout ByteWriter) {
        writer.write(peer)
        writer.write(path.rawValue)
        writer.write(optional: rttMicros) { $0.write($1) }
        writer.write(optional: lossPerMille) { $0.write($1) }
        writer.write(optional: lastAttempt) { writer, attempt in
            writer.write(attempt.agoMillis)
            writer.write(attempt.kind.rawValue)
            writer.write(attempt.succeeded)
            writer.write(Self.truncated(attempt.reason))
        }
    }

    /// `text` cut to at most ``maximumReasonLength`` UTF-8 bytes, on a character boundary.
    public static func truncated(_ text: String) -> String {
        guard text.utf8.count > maximumReasonLength else { return text }
        var cut = Substring(text)
        while cut.utf8.count > maximumReasonLength { cut = cut.dropLast() }
        return String(cut)
    }

    static func decode(from reader: inout ByteReader) throws(DecodingError) -> PathReport {
        let peer = try reader.readNodeID("path.peer")
        let rawPath = try reader.readUInt8("path.path")
        guard let path = Path(rawValue: rawPath) else { throw .malformed(field: "path.path", reason: "unknown path \(rawPath)") }
        let rtt = try reader.readOptional("path.rtt") { r throws(DecodingError) in try r.readUInt32("path.rtt") }
        let loss = try reader.readOptional("path.loss") { r throws(DecodingError) in try r.readUInt16("path.loss") }
        guard (loss ?? 0) <= 1000 else { throw .malformed(field: "path.loss", reason: "over 1000 per mille") }
        let attempt = try reader.readOptional("path.attempt") { r throws(DecodingError) -> Attempt in
            let ago = try r.readUInt64("attempt.ago")
            let rawKind = try r.readUInt8("attempt.kind")
            guard let kind = AttemptKind(rawValue: rawKind) else { throw .malformed(field: "attempt.kind", reason: "unknown kind \(rawKind)") }
            let succeeded = try r.readBool("attempt.succeeded")
            let reason = try r.readString("attempt.reason", maximumLength: Self.maximumReasonLength)
            return Attempt(agoMillis: ago, kind: kind, succeeded: succeeded, reason: reason)
        }
        return PathReport(peer: peer, path: path, rttMicros: rtt, lossPerMille: loss, lastAttempt: attempt)
    }
}
