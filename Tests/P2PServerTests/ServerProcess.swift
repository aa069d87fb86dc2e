import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Lines logged by every server process of a test, with a way to await a condition on them.
final class ClusterLog: Sendable {
    private let lines = Mutex<[String]>([])
    private let waiters = Mutex<[UUID: AsyncStream<Void>.Continuation]>([:])

    /// Set P2PCORE_TEST_ECHO=1 to see the servers' logs while a test runs.
    private static let echo = ProcessInfo.processInfo.environment["P2PCORE_TEST_ECHO"] != nil

    func append(_ line: String) {
        if Self.echo { FileHandle.standardError.write(Data((line + "\n").utf8)) }
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
///
/// Spawned with `posix_spawn` and reaped with `waitpid`; stderr is read by a plain thread with
/// blocking reads (Foundation's `Process` and pipe handlers proved crash-prone on Linux).
final class ServerProcess: @unchecked Sendable {
    // @unchecked: `pid` is only touched from the test's own task.
    let name: String
    let port: Int
    let dataDirectory: String
    private var pid: pid_t = 0

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

    struct SpawnFailed: Error { let code: Int32 }

    func start(peers: [Int], log: ClusterLog) throws {
        let arguments = [Self.binary.path, "--listen", "127.0.0.1:\(port)", "--data-dir", dataDirectory, "--secret", "test-secret"]
            + peers.flatMap { ["--peer", "127.0.0.1:\($0)"] }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SpawnFailed(code: errno) }
        // Close-on-exec, so other children never inherit this pipe (dup2 clears it on fd 2).
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, Self.binary.path, &actions, nil, &argv, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw SpawnFailed(code: rc)
        }
        pid = child
        let readEnd = fds[0]
        let name = self.name
        Thread {
            var pending = ""
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(readEnd, &buffer, buffer.count)
                if count <= 0 { break }
                pending += String(decoding: buffer[0..<count], as: UTF8.self)
                var lines = pending.components(separatedBy: "\n")
                pending = lines.removeLast()
                for line in lines { log.append("[\(name)] \(line)") }
            }
            close(readEnd)
        }.start()
    }

    /// Sends `signal` and waits for the process to exit.
    func kill(signal: Int32) {
        guard pid > 0 else { return }
        Glibc.kill(pid, signal)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    /// Stops the process gracefully (SIGTERM) and reaps it.
    func stop() {
        kill(signal: SIGTERM)
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
