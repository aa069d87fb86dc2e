// Requests and pushes carry the message model (mail, client records, send results): code that
// speaks the protocol sees it through this module.
import MessageModel
import Transport

/// Frame types on client↔server links (after the link handshake), from the registry of every
/// link's frame types (``FrameType``).
public enum ClientProtocol {
    /// A ``ClientRequest`` (client → server).
    public static let requestFrame: UInt8 = FrameType.clientRequest.rawValue
    /// A ``ServerPush`` (server → client).
    public static let pushFrame: UInt8 = FrameType.serverPush.rawValue
    /// A ``LinkFeatures`` announcement (either way).
    public static let featuresFrame: UInt8 = FrameType.clientFeatures.rawValue
    /// Largest application payload a client may send in one message (default; servers enforce
    /// their own configured limit).
    public static let defaultMaximumMessageSize = 1 << 20
}
