import ArgumentParser
import Foundation
import Logging
import P2PClient
import P2PCore

/// `p2pcore-chaos client`: one workload client as its own process, driven over stdin/stdout.
///
/// In: `send <tag> <recipient> <size> <timeout-ms>`, `paths`, and end of input to quit.
/// Out: `ready <id>`, `sent <tag> ok|stored|pending <seq>`, `sent <tag> failed <reason>`,
/// `recv <from> <seq> <size> <fingerprint>`, `paths [<peer>=lan|udp ...]`,
/// `deliveries <direct> <relayed>` (at the end), `stopped`.
struct ChaosClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "One workload client (started by the scenario; not for direct use)."
    )

    @Option var state: String
    @Option var servers: String
    @Option var secret: String
    @Option(help: "Where to listen for direct links (host:port).") var listen: String?
    @Flag(inversion: .prefixedNo, help: "Reach other clients directly when possible (off: every message goes through the servers' mailboxes).")
    var directTunnels = true

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            // Notices and up: path changes and anything unusual, for post-mortems.
            handler.logLevel = .notice
            return handler
        }
        var configuration = ClientConfiguration(servers: servers.split(separator: ",").map(String.init))
        configuration.stateDirectory = state
        configuration.secret = secret
        configuration.startTimeout = .seconds(60)
        configuration.directTunnels = directTunnels
        if let listen, let address = HostPort(listen) {
            configuration.listenHost = address.host
            configuration.listenPort = UInt16(clamping: address.port)
        }
        let client = try await P2PClient.start(configuration)
        let output = LineWriter()
        output.write("ready \(client.id)")
        let receiving = Task {
            do {
                for try await message in client.receive() {
                    output.write("recv \(message.from) \(message.id.sequence) \(message.data.count) \(Payload.fingerprint(message.data))")
                }
            } catch is CancellationError {
                // The process is quitting.
            } catch {
                output.write("receive-error \(error)")
            }
        }
        await withDiscardingTaskGroup { group in
            for await line in Self.standardInputLines() {
                let words = line.split(separator: " ").map(String.init)
                if words == ["paths"] {
                    let paths = await client.directPaths()
                    output.write((["paths"] + paths.map { "\($0.key)=\($0.value.rawValue)" }.sorted()).joined(separator: " "))
                    continue
                }
                guard words.first == "send", words.count == 5, let tag = UInt64(words[1]), let recipient = NodeID(uuidString: words[2]),
                      let size = Int(words[3]), let timeout = Int(words[4]) else { break }
                group.addTask {
                    do {
                        let id = try await client.send(to: recipient, data: Payload.bytes(tag: tag, size: size), timeout: .milliseconds(timeout))
                        output.write("sent \(tag) ok \(id.sequence)")
                    } catch SendError.stored(let id) {
                        output.write("sent \(tag) stored \(id.sequence)")
                    } catch SendError.pending(let id) {
                        output.write("sent \(tag) pending \(id.sequence)")
                    } catch {
                        output.write("sent \(tag) failed \(error)".replacingOccurrences(of: "\n", with: " "))
                    }
                }
            }
        }
        // A message already handed to the receive loop is reported before the process exits
        // (the loop stops at its next `next()`), or the checker would count it as lost.
        receiving.cancel()
        await receiving.value
        let deliveries = await client.deliveryCounts()
        output.write("deliveries \(deliveries.direct) \(deliveries.relayed)")
        await client.shutdown()
        output.write("stopped")
    }
}

extension ChaosClientCommand {
    /// Lines of standard input, read on a thread of their own (a blocking read must not hold
    /// one of the few threads Swift concurrency runs tasks on).
    static func standardInputLines() -> AsyncStream<String> {
        let (lines, continuation) = AsyncStream<String>.makeStream()
        Thread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }.start()
        return lines
    }
}

/// Whole lines to standard output from many tasks, flushed at once.
final class LineWriter: Sendable {
    private let lock = NSLock()

    func write(_ line: String) {
        lock.withLock { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    }
}
