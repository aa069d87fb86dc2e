import Foundation

/// A `p2pcore-bench scale-worker` child process hosting part of the simulated clients (one
/// process cannot hold them all: 4 descriptors per client against the open-file limit). Commands
/// go to its stdin one per line; it answers on stdout, and prints a `status` line every 200 ms.
final class WorkerProcess: Sendable {
    let pid: pid_t
    private let input: Int32
    /// The newest `status` numbers and the other lines not taken yet.
    private let state = Locked<(status: [Int], lines: [String], ended: Bool)>(([], [], false))

    struct SpawnFailed: Error, CustomStringConvertible {
        let description: String
    }

    private init(pid: pid_t, input: Int32) {
        self.pid = pid
        self.input = input
    }

    /// Starts `executable` with `arguments` and `environment` added to this process's.
    static func spawn(executable: String, arguments: [String], environment: [String: String]) throws -> WorkerProcess {
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw SpawnFailed(description: "pipe: errno \(errno)") }
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        let argumentList = [executable] + arguments
        var argv: [UnsafeMutablePointer<CChar>?] = argumentList.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        var envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in envp { free(pointer) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, nil, &argv, &envp)
        close(toChild[0])
        close(fromChild[1])
        guard rc == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw SpawnFailed(description: "posix_spawn \(executable): \(rc)")
        }
        let worker = WorkerProcess(pid: child, input: toChild[1])
        let output = fromChild[0]
        Thread { worker.read(output) }.start()
        return worker
    }

    private func read(_ fd: Int32) {
        var pending = ""
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = Glibc.read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            pending += String(decoding: buffer[0..<count], as: UTF8.self)
            var lines = pending.components(separatedBy: "\n")
            pending = lines.removeLast()
            state.withLock { state in
                for line in lines {
                    if line.hasPrefix("status ") {
                        state.status = line.split(separator: " ").dropFirst().compactMap { Int($0) }
                    } else {
                        state.lines.append(line)
                    }
                }
            }
        }
        close(fd)
        state.withLock { $0.ended = true }
    }

    /// Sends one command line.
    func send(_ command: String) {
        let bytes = Array((command + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
    }

    /// The newest status numbers (empty before the first).
    var status: [Int] { state.withLock { $0.status } }

    /// Waits for (and takes) the first line starting with `prefix`; `nil` after `timeout` or
    /// if the worker ended.
    func line(startingWith prefix: String, timeout: Duration) async -> String? {
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < timeout {
            let found = state.withLock { state -> String?? in
                if let index = state.lines.firstIndex(where: { $0.hasPrefix(prefix) }) { return .some(state.lines.remove(at: index)) }
                return state.ended ? .some(nil) : .none
            }
            if let found { return found }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Asks the worker to exit; kills it if it has not after `grace`.
    func stop(grace: Duration = .seconds(10)) {
        send("exit")
        close(input)
        let deadline = ContinuousClock.now + grace
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                return
            }
            usleep(20_000)
        }
    }
}
