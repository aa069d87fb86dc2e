import Foundation
import P2PCore
import Synchronization

/// One workload client process, as the scenario sees it.
final class ClientHandle: Sendable {
    let index: Int
    let stateDirectory: String
    /// The network namespace the process runs in (`ip netns exec`), if any.
    let namespace: String?
    /// Where the client listens for direct links (`host:port`), if not the default.
    let listen: String?
    /// Whether the client reaches other clients directly (off: everything goes through the mailboxes).
    let directTunnels: Bool
    private struct State {
        var process: Process?
        var input: FileHandle?
        var online = false
        /// Each time the process was found to have exited before it was asked to stop.
        var unexpectedExits: [String] = []
    }

    private let state = Mutex(State())

    init(index: Int, stateDirectory: String, namespace: String? = nil, listen: String? = nil, directTunnels: Bool = true) {
        self.index = index
        self.stateDirectory = stateDirectory
        self.namespace = namespace
        self.listen = listen
        self.directTunnels = directTunnels
    }

    /// Whether the workload may use this client as a sender.
    var isOnline: Bool { state.withLock { $0.online } }

    struct StartFailed: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts the process and returns its id once it attached; its other output lines go to `onLine`.
    func start(binary: String, servers: [String], secret: String, onLine: @escaping @Sendable (String) -> Void) async throws -> NodeID {
        let process = Process()
        var arguments = ["client", "--state", stateDirectory, "--servers", servers.joined(separator: ","), "--secret=\(secret)"]
        if let listen { arguments += ["--listen", listen] }
        if !directTunnels { arguments.append("--no-direct-tunnels") }
        if let namespace {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace, binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        let input = Pipe(), output = Pipe()
        // Close-on-exec for every pipe end: otherwise each later child (another client, a
        // server) inherits this client's stdin write end, and closing ours never reaches it as
        // end of input — the client could not shut down gracefully. The child's own ends are
        // dup'ed onto 0 and 1, which clears the flag there.
        for handle in [input.fileHandleForReading, input.fileHandleForWriting, output.fileHandleForReading, output.fileHandleForWriting] {
            _ = fcntl(handle.fileDescriptor, F_SETFD, FD_CLOEXEC)
        }
        process.standardInput = input
        process.standardOutput = output
        // Warnings and errors of the client library, kept beside its state for post-mortems.
        // Appended across restarts: a post-mortem needs every run of the client.
        if !FileManager.default.fileExists(atPath: stateDirectory + ".log") {
            _ = FileManager.default.createFile(atPath: stateDirectory + ".log", contents: nil)
        }
        let log = FileHandle(forWritingAtPath: stateDirectory + ".log")
        log?.seekToEndOfFile()
        process.standardError = log ?? FileHandle.nullDevice
        let (ready, readyContinuation) = AsyncStream<String>.makeStream()
        let reader = output.fileHandleForReading
        Thread {
            var pending = Data()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    if line.hasPrefix("ready ") || line == "stopped" { readyContinuation.yield(line) } else { onLine(line) }
                }
            }
            readyContinuation.finish()
        }.start()
        try process.run()
        var lines = ready.makeAsyncIterator()
        guard let first = await lines.next(), first.hasPrefix("ready "), let id = NodeID(uuidString: String(first.dropFirst(6))) else {
            process.terminate()
            throw StartFailed(description: "client c\(index) did not start")
        }
        state.withLock { state in
            state.process = process
            state.input = input.fileHandleForWriting
            state.online = true
        }
        return id
    }

    func send(tag: UInt64, to recipient: NodeID, size: Int, timeoutMillis: Int) {
        let input = state.withLock { $0.online ? $0.input : nil }
        try? input?.write(contentsOf: Data("send \(tag) \(recipient) \(size) \(timeoutMillis)\n".utf8))
    }

    /// Asks the process for its direct paths (answered by a `paths …` line).
    func requestPaths() {
        let input = state.withLock { $0.online ? $0.input : nil }
        try? input?.write(contentsOf: Data("paths\n".utf8))
    }

    /// Kills the process at once (SIGKILL), without waiting: for tearing down after an interrupt.
    func kill() {
        let process = state.withLock { state in
            defer { state.online = false }
            return state.process
        }
        if let process, process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    /// What to report if the running process exited on its own (a crash, say); `nil` while it
    /// runs, and before its start or after its stop.
    var exitedOnItsOwn: String? { state.withLock { $0.process }.flatMap(exitReport) }

    /// Each time the process was found, at a stop, to have exited on its own (a crash, say):
    /// its messages then look lost, and this says why.
    var unexpectedExits: [String] { state.withLock { $0.unexpectedExits } }

    /// Takes the client out of the workload (it keeps receiving until `stop`).
    func markOffline() { state.withLock { $0.online = false } }

    /// Closes its input (the process shuts its client down gracefully) and waits for it to exit.
    func stop() async {
        let (process, input) = state.withLock { state in
            defer {
                state.process = nil
                state.input = nil
                state.online = false
            }
            return (state.process, state.input)
        }
        guard let process else { return }
        if let exit = exitReport(process) { state.withLock { $0.unexpectedExits.append(exit) } }
        try? input?.close()
        for _ in 0..<300 where process.isRunning {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            FileHandle.standardError.write(Data("client c\(index) did not stop within 15 s of the end of its input: terminated\n".utf8))
            process.terminate()
        }
    }

    private func exitReport(_ process: Process) -> String? {
        guard !process.isRunning else { return nil }
        let how = process.terminationReason == .uncaughtSignal ? "signal \(process.terminationStatus)" : "status \(process.terminationStatus)"
        return "client c\(index) had exited on its own (\(how)) before it was stopped: see \(stateDirectory).log"
    }
}
