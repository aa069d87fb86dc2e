import AdminProtocol
import ClusterHarness
import Foundation
import P2PCore

/// What one server's `mailbox-admin status --json` said, with server ids turned into the
/// cluster's names (s1, s2, s3) so that views from different servers compare directly.
struct ServerNATView: Sendable {
    /// The server that was asked.
    let askedServer: String
    let healthy: Bool
    let problems: [String]
    /// The leader's name, if the asked server knows one.
    let leader: String?
    /// `"s2→s3"` → how s2 reports its link to s3: `tcp-out`, `tcp-in`, `udp-punched`,
    /// `relayed(via s1)`, `none`.
    let links: [String: String]
    /// `"s2→s3"` → the reason s2 gives for not being linked directly, when it gives one.
    let reasons: [String: String]
    /// Name → role, as reported (`unreachable` when the asked server got no answer from it).
    let roles: [String: String]

    init(askedServer: String, status: ClusterStatus, names: [NodeID: String]) {
        self.askedServer = askedServer
        healthy = status.healthy
        problems = status.problems
        let name = { (id: NodeID) in names[id] ?? "\(id)" }
        leader = status.leader.map(name)
        var links: [String: String] = [:]
        var reasons: [String: String] = [:]
        var roles: [String: String] = [:]
        for server in status.servers {
            roles[name(server.id)] = server.role
            for link in server.links {
                let pair = "\(name(server.id))→\(name(link.peer))"
                links[pair] = link.kind == .relayed ? "relayed(via \(link.via.map(name) ?? "?"))" : link.kind.rawValue
                if let reason = link.reason { reasons[pair] = reason }
            }
        }
        self.links = links
        self.reasons = reasons
        self.roles = roles
    }

    /// The link matrix, e.g. `s1→s2=tcp-in s1→s3=tcp-in s2→s1=tcp-out s2→s3=udp-punched …`.
    var linkSummary: String {
        guard !links.isEmpty else { return "(no links reported)" }
        return links.sorted { $0.key < $1.key }.map { pair, kind in
            "\(pair)=\(kind)" + (reasons[pair].map { "(\($0))" } ?? "")
        }.joined(separator: " ")
    }

    var description: String {
        "\(askedServer) sees leader=\(leader ?? "none") healthy=\(healthy)"
            + (problems.isEmpty ? "" : " problems=[\(problems.joined(separator: "; "))]")
            + " roles=\(roles.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","))"
            + " links: \(linkSummary)"
    }
}

enum ServerNATAdmin {
    /// `mailbox-admin status --json --data-dir <dir>`, run inside `server`'s namespace (the
    /// acceptance's own words); the view, or why there is none.
    static func status(of server: ServerProcess, mailboxAdmin: String, names: [NodeID: String]) async -> Result<ServerNATView, StatusUnavailable> {
        var argv = [mailboxAdmin, "status", "--json", "--data-dir", server.dataDirectory, "--timeout", "5"]
        if let namespace = server.namespace { argv = ["/usr/sbin/ip", "netns", "exec", namespace] + argv }
        let result = await capture(argv)
        // It prints the JSON and exits 1 when the cluster is unhealthy: decode whatever it printed.
        if let status = try? JSONDecoder().decode(ClusterStatus.self, from: Data(result.stdout.utf8)) {
            return .success(ServerNATView(askedServer: server.name, status: status, names: names))
        }
        let why = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        return .failure(StatusUnavailable(description: "\(server.name): mailbox-admin status exited \(result.status)\(why.isEmpty ? "" : ": \(why)")"))
    }

    struct StatusUnavailable: Error, CustomStringConvertible {
        let description: String
    }

    /// The server's own status (role, term, leader, links) through its local admin socket, or
    /// why there is none.
    static func ownStatus(of server: ServerProcess) async -> Result<ServerStatus, StatusUnavailable> {
        guard server.isRunning else { return .failure(StatusUnavailable(description: "not running")) }
        let admin = AdminClient.local(socket: server.dataDirectory + "/admin.sock")
        defer { admin.close() }
        do {
            switch try await admin.request(.serverStatus, timeout: .seconds(5)) {
            case .serverStatus(let status): return .success(status)
            case .failed(let failure): return .failure(StatusUnavailable(description: failure.message))
            default: return .failure(StatusUnavailable(description: "unexpected answer"))
            }
        } catch {
            return .failure(StatusUnavailable(description: "no answer on its admin socket (\(error))"))
        }
    }

    /// ``ownStatus(of:)`` as one line, for messages: role, term, leader and (unless `brief`)
    /// each link with the reason it gives.
    static func ownStatusLine(of server: ServerProcess, names: [NodeID: String], brief: Bool = false) async -> String {
        let name = { (id: NodeID) in names[id] ?? "\(id)" }
        switch await ownStatus(of: server) {
        case .success(let status):
            let line = "\(server.name): role=\(status.role) term=\(status.term) leader=\(status.leader.map(name) ?? "none")"
            if brief { return line }
            let links = status.links.map { link in
                "→\(name(link.peer))=\(link.kind.rawValue)" + (link.via.map { " via \(name($0))" } ?? "") + (link.reason.map { " (\($0))" } ?? "")
            }
            return line + " links: \(links.isEmpty ? "none reported" : links.joined(separator: ", "))"
        case .failure(let why):
            return "\(server.name): \(why)"
        }
    }

    /// Asks `server` (through its local admin socket) to hand leadership to `target`.
    static func transferLeadership(at server: ServerProcess, to target: NodeID) async -> String? {
        let admin = AdminClient.local(socket: server.dataDirectory + "/admin.sock")
        defer { admin.close() }
        do {
            switch try await admin.request(.transferLeadership(target: target), timeout: .seconds(15)) {
            case .done: return nil
            case .failed(let failure): return failure.message
            default: return "unexpected answer"
            }
        } catch {
            return "\(error)"
        }
    }

    /// Runs `argv` (`argv[0]` an absolute path) on a thread of its own (its blocking reads must
    /// not hold one of the few threads tasks run on) and returns its exit status and output.
    static func capture(_ argv: [String]) async -> (status: Int32, stdout: String, stderr: String) {
        await withCheckedContinuation { continuation in
            Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: argv[0])
                process.arguments = Array(argv.dropFirst())
                let output = Pipe(), errors = Pipe()
                // Close-on-exec, so that processes spawned meanwhile never hold our pipes open.
                for handle in [output.fileHandleForReading, output.fileHandleForWriting, errors.fileHandleForReading, errors.fileHandleForWriting] {
                    _ = fcntl(handle.fileDescriptor, F_SETFD, FD_CLOEXEC)
                }
                process.standardInput = FileHandle.nullDevice
                process.standardOutput = output
                process.standardError = errors
                do {
                    try process.run()
                } catch {
                    continuation.resume(returning: (-1, "", "cannot run \(argv[0]): \(error)"))
                    return
                }
                // (Process closed our copies of the write ends once the child had them.)
                let stdout = output.fileHandleForReading.readDataToEndOfFile()
                let stderr = errors.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self)))
            }.start()
        }
    }
}
