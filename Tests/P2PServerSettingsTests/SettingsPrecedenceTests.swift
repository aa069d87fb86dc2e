import ArgumentParser
import Foundation
import LogFormats
import Logging
import Mailbox
import P2PCore
import P2PServer
import P2PServerSettings
import Testing
import TestSupport

/// Writes `json` to `config.json` in `directory` and returns its path.
func writeConfig(_ json: String, in directory: String, name: String = "config.json") throws -> String {
    let path = directory + "/" + name
    try Data(json.utf8).write(to: URL(fileURLWithPath: path))
    return path
}

/// Settings loaded from these flags and this environment only.
func load(_ arguments: [String], environment: [String: String] = [:]) async throws -> ServerSettings {
    try await ServerSettings.load(options: try RunOptions.parse(arguments), environment: environment)
}

@Suite struct SettingsPrecedenceTests {
    @Test func nothingGivenMeansTheServerDefaults() async throws {
        let settings = try await load([])
        let defaults = ServerConfiguration()
        #expect(settings.configuration.listenHost == defaults.listenHost)
        #expect(settings.configuration.listenPort == defaults.listenPort)
        #expect(settings.configuration.dataDirectory == defaults.dataDirectory)
        #expect(settings.configuration.tickInterval == defaults.tickInterval)
        #expect(settings.configuration.mailboxLimits == MailboxLimits())
        #expect(settings.logLevel == .info)
        #expect(settings.logFormat == .text)
        #expect(settings.configFile == nil)
        #expect(SettingKey.all.allSatisfy { settings.sources[$0] == .defaultValue })
    }

    @Test func flagsWinOverEnvironmentWhichWinsOverTheFileWhichWinsOverDefaults() async throws {
        try await withTemporaryDirectory("settings") { directory in
            let file = try writeConfig(#"{"listen": "10.0.0.1:7000", "tick": "50ms", "mailbox": {"maximumBytes": 1000}, "logLevel": "debug"}"#, in: directory)
            let environment = ["P2PCORE_CONFIG": file, "P2PCORE_LISTEN": "10.0.0.2:7000", "P2PCORE_TICK": "70ms"]

            let all = try await load(["--listen", "10.0.0.3:7000"], environment: environment)
            #expect(all.configuration.listenHost == "10.0.0.3")
            #expect(all.sources[.listen] == .commandLine)
            #expect(all.configuration.tickInterval == .milliseconds(70))
            #expect(all.sources[.tick] == .environment)
            #expect(all.configuration.mailboxLimits.maximumBytes == 1000)
            #expect(all.sources[.mailboxMaximumBytes] == .file(file))
            #expect(all.logLevel == .debug)
            #expect(all.configuration.mailboxLimits.maximumMessages == MailboxLimits().maximumMessages)
            #expect(all.sources[.mailboxMaximumMessages] == .defaultValue)

            let noFlag = try await load([], environment: environment)
            #expect(noFlag.configuration.listenHost == "10.0.0.2")
            #expect(noFlag.sources[.listen] == .environment)

            let fileOnly = try await load(["--config", file])
            #expect(fileOnly.configuration.listenHost == "10.0.0.1")
            #expect(fileOnly.configuration.tickInterval == .milliseconds(50))
            #expect(fileOnly.sources[.listen] == .file(file))
        }
    }

    @Test func theConfigFlagWinsOverTheConfigVariable() async throws {
        try await withTemporaryDirectory("settings") { directory in
            let first = try writeConfig(#"{"dataDir": "/from/flag"}"#, in: directory, name: "a.json")
            let second = try writeConfig(#"{"dataDir": "/from/environment"}"#, in: directory, name: "b.json")
            let settings = try await load(["--config", first], environment: ["P2PCORE_CONFIG": second])
            #expect(settings.configuration.dataDirectory == "/from/flag")
            #expect(settings.configFile == first)
        }
    }

    @Test func listsComeWholeFromOneLayer() async throws {
        try await withTemporaryDirectory("settings") { directory in
            let file = try writeConfig(#"{"peers": ["f1:1", "f2:2"]}"#, in: directory)
            let fromFile = try await load(["--config", file])
            #expect(fromFile.configuration.peers == ["f1:1", "f2:2"])
            let fromEnvironment = try await load(["--config", file], environment: ["P2PCORE_PEERS": "e1:1,e2:2,e3:3"])
            #expect(fromEnvironment.configuration.peers == ["e1:1", "e2:2", "e3:3"])
            let fromFlags = try await load(["--config", file, "--peer", "c1:1"], environment: ["P2PCORE_PEERS": "e1:1"])
            #expect(fromFlags.configuration.peers == ["c1:1"])
        }
    }

    @Test func everySettingHasAWorkingEnvironmentVariable() async throws {
        let values: [SettingKey: String] = [
            .listen: "1.2.3.4:5", .advertise: "5.6.7.8:9", .monitor: "127.0.0.1:9400", .peers: "a:1,b:2", .dataDir: "/d", .secretFile: "/s",
            .serverSecretFile: "/ss", .adminSecretFile: "/as", .insecureDevelopmentMode: "true", .logLevel: "trace",
            .logFormat: "json", .tick: "1s", .clientSendRate: "5.5", .maximumRequestsInFlight: "7",
            .introductionInterval: "2s", .maximumMessageSize: "99", .redeliveryPatience: "4s", .acknowledgementHold: "5ms",
            .defaultMessageTimeToLive: "1m", .maximumMessageTimeToLive: "2m",
            .mailboxMaximumMessages: "11", .mailboxMaximumBytes: "12", .mailboxMaximumMessagesPerSender: "13",
            .mailboxMaximumTotalBytes: "14",
        ]
        #expect(Set(values.keys) == Set(SettingKey.all))
        let environment = Dictionary(uniqueKeysWithValues: values.map { ($0.key.environmentVariable, $0.value) })
        let settings = try await load([], environment: environment)
        for key in SettingKey.all {
            #expect(settings.sources[key] == .environment, "\(key.environmentVariable) not read")
        }
        let c = settings.configuration
        #expect(c.monitorAddress == HostPort(host: "127.0.0.1", port: 9400))
        #expect(c.advertiseAddress == "5.6.7.8:9" && c.insecureDevelopmentMode && c.clientSendRate == 5.5)
        #expect(c.defaultMessageTimeToLive == .seconds(60) && c.maximumMessageTimeToLive == .seconds(120))
        #expect(c.maximumRequestsInFlight == 7 && c.maximumMessageSize == 99 && c.redeliveryPatience == .seconds(4))
        #expect(c.acknowledgementHold == .milliseconds(5))
        #expect(c.mailboxLimits == MailboxLimits(maximumMessages: 11, maximumBytes: 12, maximumMessagesPerSender: 13, maximumTotalBytes: 14))
        #expect(settings.logFormat == .json && settings.logLevel == .trace && settings.serverSecretFile == "/ss")
    }

    @Test func everySettingHasAWorkingFlag() async throws {
        let arguments = SettingKey.all.flatMap { key -> [String] in
            switch key.kind {
            case .boolean: [key.flag]
            case .duration where key == .acknowledgementHold: [key.flag, "300ms"]  // at most 1s
            case .duration: [key.flag, "3s"]
            case .integer, .number: [key.flag, "3"]
            case .stringList: [key.flag, "p:3"]
            case .string where key == .logLevel: [key.flag, "error"]
            case .string where key == .logFormat: [key.flag, "json"]
            case .string where key == .listen || key == .advertise || key == .monitor: [key.flag, "h:3"]
            case .string: [key.flag, "/3"]
            }
        }
        let settings = try await load(arguments)
        for key in SettingKey.all {
            #expect(settings.sources[key] == .commandLine, "\(key.flag) not read")
        }
        #expect(settings.configuration.mailboxLimits.maximumTotalBytes == 3)
    }
}
