// Requests and pushes carry the message model (mail, client records, send results): code that
// speaks the protocol sees it through this module.
@_exported import MessageModel
import Transport

/// Frame types on client↔server links (after the link handshake).
public enum ClientProtocol {
    /// First frame a server sends on a link it dialled to another server.
    public static let serverHelloFrame: UInt8 = Link.firstApplicationType
    /// A ``ClientRequest`` (client → server).
    public static let requestFrame: UInt8 = Link.firstApplicationType + 8
    /// A ``ServerPush`` (server → client).
    public static let pushFrame: UInt8 = Link.firstApplicationType + 9
    /// Largest application payload a client may send in one message (default; servers enforce
    /// their own configured limit).
    public static let defaultMaximumMessageSize = 1 << 20
}
