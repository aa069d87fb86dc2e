import ArgumentParser
import Foundation
import P2PCore
import P2PServer
import P2PServerSettings
import Testing
import TestSupport

@Suite struct SecretSettingsTests {
    private func secretFile(_ secret: String, in directory: String, name: String) throws -> String {
        let path = directory + "/" + name
        try Data(secret.utf8).write(to: URL(fileURLWithPath: path))
        #expect(chmod(path, 0o600) == 0)
        return path
    }

    @Test func secretFilesNamedInTheConfigFileAreReadAndTheEnvironmentWins() async throws {
        try await withTemporaryDirectory("secrets") { directory in
            let cluster = try secretFile("cluster-from-file", in: directory, name: "cluster.secret")
            let server = try secretFile("server-from-file", in: directory, name: "server.secret")
            let config = try writeConfig(#"{"secretFile": "\#(cluster)", "serverSecretFile": "\#(server)"}"#, in: directory)

            let options = try RunOptions.parse(["--config", config])
            let fromFile = try await ServerSettings.load(options: options, environment: [:]).configuration(options: options, environment: [:])
            #expect(fromFile.secret == "cluster-from-file")
            #expect(fromFile.serverSecret == "server-from-file")
            #expect(fromFile.adminSecret == nil)

            let environment = ["P2PCORE_SECRET": "cluster-from-environment"]
            let settings = try await ServerSettings.load(options: options, environment: environment)
            #expect(try settings.configuration(options: options, environment: environment).secret == "cluster-from-environment")

            let flagged = try RunOptions.parse(["--config", config, "--secret", "cluster-from-flag"])
            let flaggedSettings = try await ServerSettings.load(options: flagged, environment: environment)
            #expect(try flaggedSettings.configuration(options: flagged, environment: environment).secret == "cluster-from-flag")
        }
    }

    @Test func aSecretFileReadableByOthersIsRefused() async throws {
        try await withTemporaryDirectory("secrets") { directory in
            let cluster = try secretFile("cluster", in: directory, name: "cluster.secret")
            #expect(chmod(cluster, 0o644) == 0)
            let config = try writeConfig(#"{"secretFile": "\#(cluster)"}"#, in: directory)
            let options = try RunOptions.parse(["--config", config])
            let settings = try await ServerSettings.load(options: options, environment: [:])
            #expect(throws: Secret.Problem.self) { try settings.configuration(options: options, environment: [:]) }
        }
    }

    @Test func showConfigNeverShowsSecrets() async throws {
        let options = try RunOptions.parse(["--secret", "the-cluster-secret-itself"])
        let settings = try await ServerSettings.load(options: options, environment: ["P2PCORE_SERVER_SECRET": "the-server-secret-itself"])
        let text = settings.lines.map { "\($0.key) \($0.value) \($0.source)" }.joined(separator: "\n")
        #expect(!text.contains("secret-itself"))
    }
}
