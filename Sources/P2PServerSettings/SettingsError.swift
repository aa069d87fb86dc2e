/// Why `p2pcore-server`'s settings could not be loaded.
public enum SettingsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The config file could not be read.
    case unreadableFile(path: String, reason: String)
    /// The config file is not a JSON object.
    case malformedFile(path: String, reason: String)
    /// The config file holds a key no setting has.
    case unknownKey(path: String, key: String, suggestion: String?)
    /// The config file holds a secret itself; secrets belong in files named by `*File` keys.
    case secretInFile(path: String, key: String, use: String)
    /// A value has the wrong type (a string where a number belongs, say).
    case wrongType(key: String, location: String, expected: String)
    /// A value has the right type but is not acceptable (an address without a port, a negative limit).
    case invalidValue(key: String, location: String, value: String, reason: String)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason): "cannot read config file \(path): \(reason)"
        case .malformedFile(let path, let reason): "config file \(path) is not a valid JSON object: \(reason)"
        case .unknownKey(let path, let key, let suggestion):
            "config file \(path): unknown key \"\(key)\"" + (suggestion.map { " (did you mean \"\($0)\"?)" } ?? "")
        case .secretInFile(let path, let key, let use):
            "config file \(path): \"\(key)\" would put a secret in the config file; write the secret to a file (mode 600) and name it with \"\(use)\""
        case .wrongType(_, let location, let expected): "\(location) must be \(expected)"
        case .invalidValue(_, let location, let value, let reason): "\(location) = \(value): \(reason)"
        }
    }
}
