/// Where a setting's value came from; earlier sources win (flags, then environment, then file).
public enum SettingSource: Sendable, Equatable, CustomStringConvertible {
    /// A command-line flag.
    case commandLine
    /// A `P2PCORE_*` environment variable.
    case environment
    /// The config file at this path (`--config` or `P2PCORE_CONFIG`).
    case file(String)
    /// No source set it: the built-in default.
    case defaultValue

    public var description: String {
        switch self {
        case .commandLine: "command line"
        case .environment: "environment"
        case .file(let path): "config file \(path)"
        case .defaultValue: "default"
        }
    }

    /// Where `key` is set in this source, for error messages (`--tick`, `P2PCORE_TICK`, `"tick" in config file x`).
    func locate(_ key: SettingKey) -> String {
        switch self {
        case .commandLine: key.flag
        case .environment: key.environmentVariable
        case .file(let path): "\"\(key.name)\" in config file \(path)"
        case .defaultValue: "the default \(key.name)"
        }
    }
}
