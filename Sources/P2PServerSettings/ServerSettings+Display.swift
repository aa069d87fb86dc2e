import LogFormats
import Logging
import Mailbox
import P2PCore
import P2PServer

extension ServerSettings {
    /// One line of `show-config`: a setting, its effective value and where it came from.
    public struct Line: Sendable, Equatable {
        public var key: SettingKey
        public var value: String
        public var source: SettingSource
    }

    /// Every setting's effective value and source. Secret files are shown by path; no secret is ever shown.
    public var lines: [Line] {
        let c = configuration
        let limits = c.mailboxLimits
        let values: [SettingKey: String] = [
            .listen: "\(c.listenHost):\(c.listenPort)",
            .advertise: c.advertiseAddress ?? "(the listen address)",
            .monitor: c.monitorAddress?.description ?? "(off)",
            .peers: c.peers.isEmpty ? "(none)" : c.peers.joined(separator: ","),
            .dataDir: c.dataDirectory,
            .secretFile: secretFile ?? "(none)",
            .serverSecretFile: serverSecretFile ?? "(none)",
            .adminSecretFile: adminSecretFile ?? "(none)",
            .insecureDevelopmentMode: "\(c.insecureDevelopmentMode)",
            .logLevel: logLevel.rawValue,
            .logFormat: logFormat.rawValue,
            .tick: DurationText.format(c.tickInterval),
            .clientSendRate: "\(c.clientSendRate)",
            .maximumRequestsInFlight: "\(c.maximumRequestsInFlight)",
            .introductionInterval: DurationText.format(c.introductionInterval),
            .maximumMessageSize: "\(c.maximumMessageSize)",
            .redeliveryPatience: DurationText.format(c.redeliveryPatience),
            .acknowledgementHold: DurationText.format(c.acknowledgementHold),
            .defaultMessageTimeToLive: c.defaultMessageTimeToLive.map(DurationText.format) ?? "(never expire)",
            .maximumMessageTimeToLive: c.maximumMessageTimeToLive.map(DurationText.format) ?? "(no cap)",
            .mailboxMaximumMessages: "\(limits.maximumMessages)",
            .mailboxMaximumBytes: "\(limits.maximumBytes)",
            .mailboxMaximumMessagesPerSender: "\(limits.maximumMessagesPerSender)",
            .mailboxMaximumTotalBytes: "\(limits.maximumTotalBytes)",
        ]
        return SettingKey.all.map { key in
            Line(key: key, value: values[key] ?? "", source: sources[key] ?? .defaultValue)
        }
    }
}
