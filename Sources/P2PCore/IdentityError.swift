/// Why a node identity could not be created or loaded.
public enum IdentityError: Error, Equatable, CustomStringConvertible {
    /// A key's bytes are not a valid key.
    case invalidKey(String)
    /// An identity file exists but cannot be parsed; the node refuses to invent a new id.
    case damaged(path: String, reason: String)
    /// The state directory or an identity file could not be read or written.
    case io(path: String, reason: String)
    /// A key file others can read, or a state directory others can write.
    case insecurePermissions(path: String, mode: UInt32)

    public var description: String {
        switch self {
        case .invalidKey(let why): "invalid identity key: \(why)"
        case .damaged(let path, let reason):
            "identity file \(path) is damaged (\(reason)); refusing to create a new id — restore the file or remove the state directory deliberately"
        case .io(let path, let reason): "cannot access identity file \(path): \(reason)"
        case .insecurePermissions(let path, let mode):
            "\(path) has mode \(String(mode, radix: 8)): other users could read the node's key or replace its files; `chmod go-rwx \(path)` and start again"
        }
    }
}
