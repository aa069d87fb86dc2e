import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A `p2pcore-server` child process whose stderr feeds a ``ClusterLog``.
///
/// Spawned with `posix_spawn` and reaped with `waitpid`; stderr is read by a plain thread with
/// blocking reads (Foundation's `Process` and pipe handlers proved crash-prone on Linux).
public final class ServerProcess: @unchecked Sendable {
    // @unchecked: `pid` is only touched from the test's own task.
    public let name: String
    public let port: Int
    public let dataDirectory: String
    public let binary: String
    /// The address the server listens on (loopback unless it runs in a network namespace).
    public let host: String
    /// The network namespace the server runs in (`ip netns exec`), if any.
    public let namespace: String?
    private var pid: pid_t = 0

    public init(name: String, port: Int, dataDirectory: String, binary: String, host: String = "127.0.0.1", namespace: String? = nil) {
        self.name = name
        self.port = port
        self.host = host
        self.namespace = namespace
        self.dataDirectory = dataDirectory
        self.binary = binary
    }

    public var nodeID: String? {
        (try? String(contentsOfFile: dataDirectory + "/node.id", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public struct SpawnFailed: Error { public let code: Int32 }

    /// `host:port`, as other servers and clients reach it.
    public var address: String { "\(host):\(port)" }

    /// Starts the server with loopback peers given by port.
    public func start(peers: [Int], log: ClusterLog, secrets: ClusterSecrets, extraArguments: [String] = []) throws {
        try start(peerAddresses: peers.map { "127.0.0.1:\($0)" }, log: log, secrets: secrets, extraArguments: extraArguments)
    }

    /// Starts the server; its secrets go in its environment.
    public func start(peerAddresses: [String], log: ClusterLog, secrets: ClusterSecrets, extraArguments: [String] = []) throws {
        let server = [binary, "--listen", address, "--data-dir", dataDirectory]
            + peerAddresses.flatMap { ["--peer", $0] } + extraArguments
        let arguments = namespace.map { ["/usr/sbin/ip", "netns", "exec", $0] + server } ?? server
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
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("P2PCORE_") }
        for (key, value) in secrets.environment { environment[key] = value }
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in envp { free(pointer) } }
        let rc = posix_spawn(&child, arguments[0], &actions, nil, &argv, &envp)
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

    /// Whether the process was started and has not been reaped.
    public var isRunning: Bool { pid > 0 }

    /// The process id while the process runs (e.g. to read its memory in `/proc`), else `nil`.
    public var processID: pid_t? { pid > 0 ? pid : nil }

    /// Sends `signal` without waiting (SIGSTOP, SIGCONT).
    public func signal(_ signal: Int32) {
        guard pid > 0 else { return }
        Glibc.kill(pid, signal)
    }

    /// Sends `signal` and waits for the process to exit.
    public func kill(signal: Int32) {
        guard pid > 0 else { return }
        Glibc.kill(pid, signal)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    /// Stops the process gracefully (SIGTERM) and reaps it.
    /// Escalates to SIGKILL if the process has not exited after `grace`, so that a server stuck
    /// in its shutdown can never hang the caller (the "server stopped" log line tells the two apart).
    public func stop(grace: Duration = .seconds(15)) {
        guard pid > 0 else { return }
        Glibc.kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now > deadline {
                Glibc.kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                break
            }
            usleep(10_000)
        }
        pid = 0
    }

    /// Ports handed out so far in this process (the next candidate, below the kernel's
    /// ephemeral range so that outgoing connections never take a server's port).
    private static let nextPort = Mutex(20_000 + Int.random(in: 0..<6_000))

    /// Free loopback ports, never the same one twice in a process: binding port 0 and closing it
    /// let parallel tests receive the same port and collide at bind time.
    public static func freePorts(_ count: Int) async throws -> [Int] {
        var ports: [Int] = []
        while ports.count < count {
            let candidate = nextPort.withLock { next in
                defer { next = next >= 32_000 ? 20_000 : next + 1 }
                return next
            }
            // Skip ports something else on the machine holds.
            guard let channel = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: candidate).get() else { continue }
            try await channel.close()
            ports.append(candidate)
        }
        return ports
    }
}
