import ArgumentParser
import Foundation
import LogFormats
import P2PServerSettings
import Testing
import TestSupport

@Suite struct ConfigFileErrorTests {
    /// The error loading `json` as the config file throws.
    private func error(loading json: String, flags: [String] = [], environment: [String: String] = [:]) async throws -> SettingsError? {
        try await withTemporaryDirectory("settings") { directory in
            let file = try writeConfig(json, in: directory)
            do {
                _ = try await load(["--config", file] + flags, environment: environment)
                return nil
            } catch let error as SettingsError {
                return error
            }
        }
    }

    @Test func aMalformedFileIsRefused() async throws {
        let found = try await error(loading: #"{"listen": "#)
        guard case .malformedFile = found else { Issue.record("got \(String(describing: found))"); return }
    }

    @Test func aFileThatIsNotAnObjectIsRefused() async throws {
        let found = try await error(loading: #"["listen"]"#)
        guard case .malformedFile(_, let reason) = found else { Issue.record("got \(String(describing: found))"); return }
        #expect(reason.contains("object"))
    }

    @Test func unknownKeysAreRefusedWithASuggestion() async throws {
        let typo = try await error(loading: #"{"dataDirectory": "/x"}"#)
        guard case .unknownKey(_, "dataDirectory", let suggestion) = typo else { Issue.record("got \(String(describing: typo))"); return }
        #expect(suggestion == "dataDir")
        let nested = try await error(loading: #"{"mailbox": {"maximumByte": 5}}"#)
        guard case .unknownKey(_, "mailbox.maximumByte", "mailbox.maximumBytes") = nested else { Issue.record("got \(String(describing: nested))"); return }
        let unrelated = try await error(loading: #"{"colour": "blue"}"#)
        guard case .unknownKey(_, "colour", nil) = unrelated else { Issue.record("got \(String(describing: unrelated))"); return }
    }

    @Test func wronglyTypedValuesAreRefusedNamingTheKey() async throws {
        for (json, key) in [
            (#"{"maximumMessageSize": "big"}"#, "maximumMessageSize"),
            (#"{"maximumMessageSize": 1.5}"#, "maximumMessageSize"),
            (#"{"maximumMessageSize": true}"#, "maximumMessageSize"),
            (#"{"listen": 7400}"#, "listen"),
            (#"{"peers": "a:1"}"#, "peers"),
            (#"{"peers": [1, 2]}"#, "peers"),
            (#"{"insecureDevelopmentMode": 1}"#, "insecureDevelopmentMode"),
            (#"{"tick": 100}"#, "tick"),
        ] {
            let found = try await error(loading: json)
            guard case .wrongType(key, let location, _) = found else { Issue.record("\(json): got \(String(describing: found))"); continue }
            #expect(location.contains("\"\(key)\" in config file"))
        }
    }

    @Test func aNumberSettingAcceptsAnInteger() async throws {
        #expect(try await error(loading: #"{"clientSendRate": 100}"#) == nil)
    }

    @Test func nullMeansUnset() async throws {
        #expect(try await error(loading: #"{"advertise": null}"#) == nil)
    }

    @Test func secretsAreRefusedInTheFile() async throws {
        let found = try await error(loading: #"{"serverSecret": "hunter2hunter2hunter2"}"#)
        #expect(found == .secretInFile(path: found.map { if case .secretInFile(let path, _, _) = $0 { path } else { "" } } ?? "", key: "serverSecret", use: "serverSecretFile"))
        #expect(found.map { String(describing: $0).contains("hunter2") } == false)
    }

    @Test func invalidValuesNameTheirSource() async throws {
        let file = try await error(loading: #"{"tick": "soon"}"#)
        guard case .invalidValue("tick", let location, "soon", _) = file else { Issue.record("got \(String(describing: file))"); return }
        #expect(location.contains("config file"))
        let flag = try await error(loading: "{}", flags: ["--maximum-message-size", "0"])
        #expect(flag.map { String(describing: $0) } == "--maximum-message-size = 0: must be at least 1")
        let environment = try await error(loading: "{}", environment: ["P2PCORE_PEERS": "a:1,nonsense"])
        #expect(environment.map { String(describing: $0) } == "P2PCORE_PEERS = nonsense: expected host:port")
        let level = try await error(loading: "{}", environment: ["P2PCORE_LOG_LEVEL": "loud"])
        guard case .invalidValue("logLevel", "P2PCORE_LOG_LEVEL", "loud", _) = level else { Issue.record("got \(String(describing: level))"); return }
        let hold = try await error(loading: "{}", flags: ["--acknowledgement-hold", "5s"])
        #expect(hold.map { String(describing: $0) } == "--acknowledgement-hold = 5s: must be at most 1s")
    }

    @Test func wronglyTypedEnvironmentVariablesNameTheVariable() async throws {
        let found = try await error(loading: "{}", environment: ["P2PCORE_MAXIMUM_REQUESTS_IN_FLIGHT": "many"])
        #expect(found == .wrongType(key: "maximumRequestsInFlight", location: "P2PCORE_MAXIMUM_REQUESTS_IN_FLIGHT", expected: "an integer"))
    }

    @Test func aMissingFileIsRefused() async throws {
        do {
            _ = try await load(["--config", "/nonexistent/p2pcore.json"])
            Issue.record("loaded a missing file")
        } catch let error as SettingsError {
            #expect(error == .unreadableFile(path: "/nonexistent/p2pcore.json", reason: "no such file"))
        }
    }

    @Test func theExampleDeploymentConfigLoads() async throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/p2pcore.json").standardized.path
        let settings = try await load(["--config", example])
        #expect(settings.sources[.listen] == .file(example))
        #expect(settings.logFormat == .json)
    }
}
