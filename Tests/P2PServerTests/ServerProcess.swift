import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Lines logged by every server process of a test, with a way to await a condition on them.
final class ClusterLog: Sendable {
    private let lines = Mutex<[String]>([])
    private let waiters = Mutex<[UUID: AsyncStream<Void>.Continuation]>([:])

    func append(_ line: String) {
        lines.withLock { $0.append(line) }
        for waiter in waiters.withLock({ Array($0.values) }) { waiter.yield() }
    }

    var all: [String] { lines.withLock { $0 } }

    struct TimedOut: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting for \(what)" }
    }

    /// Returns once `condition` holds on the lines logged so far; throws after `timeout`.
    func wait<T: Sendable>(for what: String, timeout: Duration = .seconds(30), _ condition: @escaping @Sendable ([String]) -> T?) async throws -> T {
        let key = UUID()
        let (events, continuation) = AsyncStream<Void>.makeStream()
        waiters.withLock { $0[key] = continuation }
        defer { _ = waiters.withLock { $0.removeValue(forKey: key) } }
        continuation.yield()  // check what is already there
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                for await _ in events {
                    if let result = condition(self.all) { return result }
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)  // a deadline, not synchronisation
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            continuation.finish()
            guard let result = first else { throw TimedOut(what: what) }
            return result
        }
    }
}

/// A `p2pcore-server` child process whose stderr feeds a ``ClusterLog``.
final class ServerProcess: @unchecked Sendable {
    // @unchecked: `Process` is used from the test task only; the log is Sendable.
    let name: String
    let port: Int
    let dataDirectory: String
    private var process: Process?

    static var binary: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/p2pcore-server")
    }

    init(name: String, port: Int, dataDirectory: String) {
        self.name = name
        self.port = port
        self.dataDirectory = dataDirectory
    }

    var nodeID: String? {
        (try? String(contentsOfFile: dataDirectory + "/node.id", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var isRunning: Bool { process?.isRunning == true }

    func start(peers: [Int], log: ClusterLog) throws {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["--listen", "127.0.0.1:\(port)", "--data-dir", dataDirectory, "--secret", "test-secret"]
            + peers.flatMap { ["--peer", "127.0.0.1:\($0)"] }
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        let name = self.name
        let buffer = Mutex<String>("")
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            let complete: [String] = buffer.withLock { pending in
                pending += String(decoding: data, as: UTF8.self)
                var lines = pending.components(separatedBy: "\n")
                pending = lines.removeLast()
                return lines
            }
            for line in complete { log.append("[\(name)] \(line)") }
        }
        try process.run()
        self.process = process
    }

    func kill(signal: Int32) {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, signal)
        if signal == SIGKILL { process.waitUntilExit() }
    }

    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// Free loopback ports, found by binding port 0.
    static func freePorts(_ count: Int) async throws -> [Int] {
        var ports: [Int] = []
        for _ in 0..<count {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
            ports.append(channel.localAddress?.port ?? 0)
            try await channel.close()
        }
        return ports
    }
}
