import Configuration
import Foundation
import LogFormats
import Logging
import Mailbox
import P2PCore
import P2PServer
import SystemPackage

/// Everything `p2pcore-server run` is told, from four layers: command-line flags win over
/// `P2PCORE_*` environment variables, which win over the JSON config file (`--config` or
/// `P2PCORE_CONFIG`), which wins over the built-in defaults (``ServerConfiguration``'s).
///
/// Secrets never pass through these layers: the config file may only name secret files
/// (``SettingKey/secretFile`` and the like), and ``configuration(options:environment:)`` reads
/// them, or `P2PCORE_SECRET` and its siblings, when the server starts.
public struct ServerSettings: Sendable {
    /// The server's configuration with every setting applied except the secrets.
    public var configuration: ServerConfiguration
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// The secret files named in any layer (the secrets themselves are read only by ``configuration(options:environment:)``).
    public var secretFile: String?
    public var serverSecretFile: String?
    public var adminSecretFile: String?
    /// The config file read, if any.
    public var configFile: String?
    /// Where each setting came from (``SettingSource/defaultValue`` when no layer set it).
    public var sources: [SettingKey: SettingSource]

    /// Reads the settings: `options` are the flags, `environment` the process environment.
    /// Throws ``SettingsError`` for an unreadable, malformed or unknown-keyed config file, and for
    /// any wrongly typed or invalid value, naming the flag, variable or file key that holds it.
    public static func load(
        options: RunOptions,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws(SettingsError) -> ServerSettings {
        var providers: [(any ConfigProvider, SettingSource)] = [
            (InMemoryProvider(name: "command line", values: options.flagValues()), .commandLine),
            (EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "p2pcore"), .environment),
        ]
        let configFile = options.config ?? environment["P2PCORE_CONFIG"]
        if let configFile {
            try ConfigFileValidator.validate(path: configFile)
            do {
                providers.append((try await FileProvider<JSONSnapshot>(filePath: FilePath(configFile)), .file(configFile)))
            } catch {
                throw .malformedFile(path: configFile, reason: String(describing: error))
            }
        }
        let reader = SettingsReader(providers: providers)
        var configuration = ServerConfiguration()
        if let listen = try await reader.address(.listen) {
            configuration.listenHost = listen.host
            configuration.listenPort = listen.port
        }
        if let advertise = try await reader.address(.advertise) { configuration.advertiseAddress = advertise.description }
        if let monitor = try await reader.address(.monitor) { configuration.monitorAddress = monitor }
        if let peers = try await reader.strings(.peers) {
            for peer in peers where HostPort(peer) == nil { throw reader.invalid(.peers, peer, "expected host:port") }
            configuration.peers = peers
        }
        if let dataDir = try await reader.string(.dataDir) { configuration.dataDirectory = dataDir }
        if let insecure = try await reader.boolean(.insecureDevelopmentMode) { configuration.insecureDevelopmentMode = insecure }
        try await readLimits(reader, into: &configuration)
        let levels = Logger.Level.allCases.map(\.rawValue)
        let formats = LogFormat.allCases.map(\.rawValue)
        let logLevel = try reader.choice(.logLevel, try await reader.string(.logLevel), accepted: levels, Logger.Level.init(rawValue:))
        let logFormat = try reader.choice(.logFormat, try await reader.string(.logFormat), accepted: formats, LogFormat.init(rawValue:))
        return ServerSettings(
            configuration: configuration,
            logLevel: logLevel ?? .info,
            logFormat: logFormat ?? .text,
            secretFile: try await reader.string(.secretFile),
            serverSecretFile: try await reader.string(.serverSecretFile),
            adminSecretFile: try await reader.string(.adminSecretFile),
            configFile: configFile,
            sources: reader.origins
        )
    }

    private static func readLimits(_ reader: SettingsReader, into configuration: inout ServerConfiguration) async throws(SettingsError) {
        if let tick = try await reader.duration(.tick) { configuration.tickInterval = tick }
        if let rate = try await reader.number(.clientSendRate) { configuration.clientSendRate = rate }
        if let count = try await reader.integer(.maximumRequestsInFlight, atLeast: 1) { configuration.maximumRequestsInFlight = count }
        if let interval = try await reader.duration(.introductionInterval) { configuration.introductionInterval = interval }
        if let size = try await reader.integer(.maximumMessageSize, atLeast: 1) { configuration.maximumMessageSize = size }
        if let patience = try await reader.duration(.redeliveryPatience) { configuration.redeliveryPatience = patience }
        // Longer would only keep delivered mail in the mailboxes longer.
        if let hold = try await reader.duration(.acknowledgementHold, atMost: .seconds(1)) { configuration.acknowledgementHold = hold }
        if let ttl = try await reader.duration(.defaultMessageTimeToLive) { configuration.defaultMessageTimeToLive = ttl }
        if let ttl = try await reader.duration(.maximumMessageTimeToLive) { configuration.maximumMessageTimeToLive = ttl }
        var limits = configuration.mailboxLimits
        if let count = try await reader.integer(.mailboxMaximumMessages, atLeast: 1) { limits.maximumMessages = count }
        if let bytes = try await reader.integer(.mailboxMaximumBytes, atLeast: 1) { limits.maximumBytes = bytes }
        if let count = try await reader.integer(.mailboxMaximumMessagesPerSender, atLeast: 1) { limits.maximumMessagesPerSender = count }
        if let bytes = try await reader.integer(.mailboxMaximumTotalBytes, atLeast: 1) { limits.maximumTotalBytes = bytes }
        configuration.mailboxLimits = limits
    }

    /// The configuration with its secrets, each from, in order: its file flag, the `--secret`
    /// flag (cluster secret only), its environment variable (`P2PCORE_SECRET`), the file named by
    /// the variable with `_FILE`, then the file named in the config file. Empty when none is given
    /// (the server refuses to start then, unless in development mode).
    public func configuration(options: RunOptions, environment: [String: String] = ProcessInfo.processInfo.environment) throws(Secret.Problem) -> ServerConfiguration {
        var configuration = configuration
        func resolve(value: String?, flagFile: String?, variable: String, key: SettingKey, layered: String?) throws(Secret.Problem) -> String? {
            if let secret = try Secret.resolve(value: value, file: flagFile, environment: variable, in: environment) { return secret }
            // The flag and the variable were handled above; what is left is the config file's.
            guard case .file = sources[key], let layered else { return nil }
            return try Secret.read(file: layered)
        }
        configuration.secret = try resolve(value: options.secret, flagFile: options.secretFile, variable: "P2PCORE_SECRET", key: .secretFile, layered: secretFile) ?? ""
        configuration.serverSecret = try resolve(value: nil, flagFile: options.serverSecretFile, variable: "P2PCORE_SERVER_SECRET", key: .serverSecretFile, layered: serverSecretFile) ?? ""
        configuration.adminSecret = try resolve(value: nil, flagFile: options.adminSecretFile, variable: "P2PCORE_ADMIN_SECRET", key: .adminSecretFile, layered: adminSecretFile)
        return configuration
    }
}
