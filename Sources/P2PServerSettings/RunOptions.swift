import ArgumentParser
import Configuration
import LogFormats
import Logging

/// The options of `p2pcore-server run` (and `show-config`). None has a default here: an option
/// not given leaves the setting to the environment, the config file or the built-in default.
public struct RunOptions: ParsableArguments, Sendable {
    @Option(help: ArgumentHelp("JSON config file (or P2PCORE_CONFIG). Flags override the environment, which overrides the file.", valueName: "path"))
    public var config: String?

    @Option(help: ArgumentHelp("Address to listen on, host:port (default 127.0.0.1:7400).", valueName: "host:port"))
    public var listen: String?

    @Option(help: ArgumentHelp("Address other servers dial this one at (default: the listen address).", valueName: "host:port"))
    public var advertise: String?

    @Option(help: ArgumentHelp("Serve /healthz, /readyz, /status, /metrics and the status page here (default: off). With an admin secret all but /healthz and /readyz need it; without one, bind to localhost.", valueName: "host:port"))
    public var monitor: String?

    @Option(name: .customLong("peer"), help: ArgumentHelp("Another server's host:port (repeat for each; P2PCORE_PEERS is comma-separated).", valueName: "host:port"))
    public var peers: [String] = []

    @Option(help: ArgumentHelp("Data directory: identity and LMDB data (default ./p2pcore-data).", valueName: "path"))
    public var dataDir: String?

    @Option(help: ArgumentHelp("File holding the cluster secret, the client credential (or P2PCORE_SECRET / P2PCORE_SECRET_FILE).", valueName: "path"))
    public var secretFile: String?

    @Option(help: "The cluster secret itself (visible to other users in the process list: prefer --secret-file).")
    public var secret: String?

    @Option(help: ArgumentHelp("File holding the server secret, the server credential (or P2PCORE_SERVER_SECRET / P2PCORE_SERVER_SECRET_FILE).", valueName: "path"))
    public var serverSecretFile: String?

    @Option(help: ArgumentHelp("File holding the admin secret for remote admin (or P2PCORE_ADMIN_SECRET / P2PCORE_ADMIN_SECRET_FILE; default: admin through the local socket only).", valueName: "path"))
    public var adminSecretFile: String?

    @Flag(help: "Development only: accept missing or weak secrets (fixed, publicly known development secrets fill in).")
    public var insecureDevelopmentMode = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default info).")
    public var logLevel: Logger.Level?

    @Option(help: "Log format: text (for people) or json (one object per line, for collectors; default text).")
    public var logFormat: LogFormat?

    @Option(help: ArgumentHelp("Raft tick: heartbeats every tick, elections after 10-20 ticks (default 100ms).", valueName: "duration"))
    public var tick: String?

    @Option(help: ArgumentHelp("Sends one client link may relay per second (default 20000).", valueName: "rate"))
    public var clientSendRate: Double?

    @Option(help: ArgumentHelp("Requests one client link may have in progress (default 256).", valueName: "count"))
    public var maximumRequestsInFlight: Int?

    @Option(help: ArgumentHelp("Least time between a client's introductions to one peer (default 500ms).", valueName: "duration"))
    public var introductionInterval: String?

    @Option(help: ArgumentHelp("Largest message payload a client may relay, in bytes (default 1048576).", valueName: "bytes"))
    public var maximumMessageSize: Int?

    @Option(help: ArgumentHelp("How long a pushed message may stay unacknowledged before it is pushed again (default 3s).", valueName: "duration"))
    public var redeliveryPatience: String?

    @Option(help: ArgumentHelp("How long a client's acknowledgements may wait to commit together (default 20ms).", valueName: "duration"))
    public var acknowledgementHold: String?

    @Option(help: ArgumentHelp("Time to live of relayed messages whose sender gave none (default: never expire; set it alike on every server).", valueName: "duration"))
    public var defaultMessageTimeToLive: String?

    @Option(help: ArgumentHelp("Longest time to live a relayed message may have; longer ones are cut to it (default: no cap).", valueName: "duration"))
    public var maximumMessageTimeToLive: String?

    @Option(help: ArgumentHelp("Items one mailbox holds before new messages become skips (default 100000).", valueName: "count"))
    public var mailboxMaximumMessages: Int?

    @Option(help: ArgumentHelp("Bytes one mailbox holds before new messages become skips (default 268435456).", valueName: "bytes"))
    public var mailboxMaximumBytes: Int?

    @Option(help: ArgumentHelp("Items one sender may have in one mailbox (default 10000).", valueName: "count"))
    public var mailboxMaximumMessagesPerSender: Int?

    @Option(help: ArgumentHelp("Bytes all mailboxes together may hold (default 8589934592).", valueName: "bytes"))
    public var mailboxMaximumTotalBytes: Int?

    public init() {}

    /// The settings given as flags, keyed by config key, for the front of the provider list.
    func flagValues() -> [AbsoluteConfigKey: ConfigValue] {
        var values: [SettingKey: ConfigContent] = [:]
        values[.listen] = listen.map(ConfigContent.string)
        values[.advertise] = advertise.map(ConfigContent.string)
        values[.monitor] = monitor.map(ConfigContent.string)
        values[.peers] = peers.isEmpty ? nil : .stringArray(peers)
        values[.dataDir] = dataDir.map(ConfigContent.string)
        values[.secretFile] = secretFile.map(ConfigContent.string)
        values[.serverSecretFile] = serverSecretFile.map(ConfigContent.string)
        values[.adminSecretFile] = adminSecretFile.map(ConfigContent.string)
        values[.insecureDevelopmentMode] = insecureDevelopmentMode ? .bool(true) : nil
        values[.logLevel] = logLevel.map { .string($0.rawValue) }
        values[.logFormat] = logFormat.map { .string($0.rawValue) }
        values[.tick] = tick.map(ConfigContent.string)
        values[.clientSendRate] = clientSendRate.map(ConfigContent.double)
        values[.maximumRequestsInFlight] = maximumRequestsInFlight.map(ConfigContent.int)
        values[.introductionInterval] = introductionInterval.map(ConfigContent.string)
        values[.maximumMessageSize] = maximumMessageSize.map(ConfigContent.int)
        values[.redeliveryPatience] = redeliveryPatience.map(ConfigContent.string)
        values[.acknowledgementHold] = acknowledgementHold.map(ConfigContent.string)
        values[.defaultMessageTimeToLive] = defaultMessageTimeToLive.map(ConfigContent.string)
        values[.maximumMessageTimeToLive] = maximumMessageTimeToLive.map(ConfigContent.string)
        values[.mailboxMaximumMessages] = mailboxMaximumMessages.map(ConfigContent.int)
        values[.mailboxMaximumBytes] = mailboxMaximumBytes.map(ConfigContent.int)
        values[.mailboxMaximumMessagesPerSender] = mailboxMaximumMessagesPerSender.map(ConfigContent.int)
        values[.mailboxMaximumTotalBytes] = mailboxMaximumTotalBytes.map(ConfigContent.int)
        return Dictionary(uniqueKeysWithValues: values.map { (AbsoluteConfigKey(stringLiteral: $0.key.name), ConfigValue($0.value, isSecret: false)) })
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}
