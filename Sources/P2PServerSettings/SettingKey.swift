/// One setting of `p2pcore-server run`: its config-file key, environment variable and flag.
///
/// Key `dataDir` is `"dataDir"` in the config file, `P2PCORE_DATA_DIR` in the environment and
/// `--data-dir` on the command line; nested keys (`mailbox.maximumBytes`) are JSON objects in
/// the file, `P2PCORE_MAILBOX_MAXIMUM_BYTES` and `--mailbox-maximum-bytes`.
public struct SettingKey: Sendable, Hashable, CustomStringConvertible {
    /// What a setting's value is.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        case string, integer, number, boolean, stringList
        /// A duration written as a number and a unit: `250ms`, `3s`, `1.5s`, `2m`.
        case duration

        /// What a config file must hold for this kind, for error messages.
        public var description: String {
            switch self {
            case .string: "a string"
            case .integer: "an integer"
            case .number: "a number"
            case .boolean: "true or false"
            case .stringList: "an array of strings"
            case .duration: "a duration string such as \"250ms\", \"3s\" or \"2m\""
            }
        }
    }

    /// The dotted config key (`listen`, `mailbox.maximumBytes`).
    public let name: String
    public let kind: Kind
    /// The command-line flag, without dashes, when it differs from the derived one (`peer` for `peers`).
    private let flagOverride: String?

    init(_ name: String, _ kind: Kind, flag: String? = nil) {
        self.name = name
        self.kind = kind
        self.flagOverride = flag
    }

    public var description: String { name }

    /// The environment variable: `P2PCORE_` and the key in upper snake case (the encoding
    /// swift-configuration's `EnvironmentVariablesProvider` applies under the `p2pcore` prefix).
    public var environmentVariable: String {
        "P2PCORE_" + words.map { $0.uppercased() }.joined(separator: "_")
    }

    /// The command-line flag with its dashes (`--data-dir`).
    public var flag: String {
        "--" + (flagOverride ?? words.map { $0.lowercased() }.joined(separator: "-"))
    }

    /// The key's words: components split at dots and at lower-to-upper case changes.
    private var words: [String] {
        name.split(separator: ".").flatMap { component -> [String] in
            var words: [String] = []
            var current = ""
            var previousWasLower = false
            for character in component {
                if character.isUppercase && previousWasLower {
                    words.append(current)
                    current = ""
                }
                current.append(character)
                previousWasLower = character.isLowercase
            }
            words.append(current)
            return words
        }
    }
}

extension SettingKey {
    public static let listen = SettingKey("listen", .string)
    public static let advertise = SettingKey("advertise", .string)
    public static let monitor = SettingKey("monitor", .string)
    public static let peers = SettingKey("peers", .stringList, flag: "peer")
    public static let dataDir = SettingKey("dataDir", .string)
    public static let secretFile = SettingKey("secretFile", .string)
    public static let serverSecretFile = SettingKey("serverSecretFile", .string)
    public static let adminSecretFile = SettingKey("adminSecretFile", .string)
    public static let insecureDevelopmentMode = SettingKey("insecureDevelopmentMode", .boolean)
    public static let logLevel = SettingKey("logLevel", .string)
    public static let logFormat = SettingKey("logFormat", .string)
    public static let tick = SettingKey("tick", .duration)
    public static let clientSendRate = SettingKey("clientSendRate", .number)
    public static let maximumRequestsInFlight = SettingKey("maximumRequestsInFlight", .integer)
    public static let introductionInterval = SettingKey("introductionInterval", .duration)
    public static let maximumMessageSize = SettingKey("maximumMessageSize", .integer)
    public static let redeliveryPatience = SettingKey("redeliveryPatience", .duration)
    public static let acknowledgementHold = SettingKey("acknowledgementHold", .duration)
    public static let defaultMessageTimeToLive = SettingKey("defaultMessageTimeToLive", .duration)
    public static let maximumMessageTimeToLive = SettingKey("maximumMessageTimeToLive", .duration)
    public static let mailboxMaximumMessages = SettingKey("mailbox.maximumMessages", .integer)
    public static let mailboxMaximumBytes = SettingKey("mailbox.maximumBytes", .integer)
    public static let mailboxMaximumMessagesPerSender = SettingKey("mailbox.maximumMessagesPerSender", .integer)
    public static let mailboxMaximumTotalBytes = SettingKey("mailbox.maximumTotalBytes", .integer)

    /// Every setting, in the order `show-config` lists them. A new setting needs: a key here, an
    /// option in ``RunOptions`` (and its line in `flagValues()`), its read in
    /// ``ServerSettings/load(options:environment:)``, its line in ``ServerSettings/lines``, and
    /// its value in the tests' every-variable list (which fails until it is there).
    public static let all: [SettingKey] = [
        .listen, .advertise, .monitor, .peers, .dataDir, .secretFile, .serverSecretFile, .adminSecretFile,
        .insecureDevelopmentMode, .logLevel, .logFormat, .tick, .clientSendRate, .maximumRequestsInFlight,
        .introductionInterval, .maximumMessageSize, .redeliveryPatience, .acknowledgementHold, .defaultMessageTimeToLive,
        .maximumMessageTimeToLive, .mailboxMaximumMessages,
        .mailboxMaximumBytes, .mailboxMaximumMessagesPerSender, .mailboxMaximumTotalBytes,
    ]

    /// Config-file keys that hold secrets themselves, refused with a pointer to the `*File` key.
    static let refusedSecretKeys = ["secret": "secretFile", "serverSecret": "serverSecretFile", "adminSecret": "adminSecretFile"]
}
