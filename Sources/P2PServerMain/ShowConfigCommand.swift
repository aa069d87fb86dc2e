import ArgumentParser
import Foundation
import P2PServerSettings

/// `p2pcore-server show-config`: the settings `run` would use, and where each came from.
struct ShowConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show-config",
        abstract: "Prints every setting `run` would use with the same flags, and its source (flag, environment, file, default).",
        discussion: "Checks the config file and every value as `run` does, without starting the server. Secret files are shown by path; secrets are never read or printed."
    )

    @OptionGroup var options: RunOptions

    func run() async throws {
        let settings = try await ServerSettings.load(options: options)
        let lines = settings.lines
        let keyWidth = lines.map(\.key.name.count).max() ?? 0
        let valueWidth = min(lines.map(\.value.count).max() ?? 0, 40)
        for line in lines {
            let key = line.key.name.padding(toLength: keyWidth, withPad: " ", startingAt: 0)
            let value = line.value.count >= valueWidth ? line.value : line.value.padding(toLength: valueWidth, withPad: " ", startingAt: 0)
            print("\(key)  \(value)  (\(line.source); \(line.key.flag), \(line.key.environmentVariable))")
        }
    }
}
