import AdminProtocol
import ClusterHarness
import Foundation
import P2PCore

/// The path-diagnostics check of the multi-LAN scenario: the real `mailbox-admin path`, run
/// inside the WAN against a server, must name the symmetric-NAT client's NAT endpoint-dependent
/// and give that as the reason its pairs are relayed (and the cone-NAT client's NAT
/// endpoint-independent).
extension MultiLANRun {
    /// Returns the failures (empty when the check passed).
    func checkPathDiagnostics(symmetric: Int, cone: Int) async throws -> [String] {
        var diagnosis: PairPathDiagnosis?
        let deadline = ContinuousClock.now + .seconds(30)
        // Observations and client reports arrive every few seconds: ask until they are in.
        while ContinuousClock.now < deadline {
            let json = try mailboxAdmin(["path", "\(ids[symmetric])", "\(ids[cone])", "--json"])
            diagnosis = try JSONDecoder().decode(PairPathDiagnosis.self, from: Data(json.utf8))
            if let diagnosis, diagnosis.a.behaviour == .endpointDependent, diagnosis.b.behaviour == .endpointIndependent { break }
            try await Task.sleep(for: .seconds(1))
        }
        let text = try mailboxAdmin(["path", "\(ids[symmetric])", "\(ids[cone])"])
        print("mailbox-admin path \(names[symmetric]) \(names[cone]):")
        for line in text.split(separator: "\n") { print("  | \(line)") }
        guard let diagnosis else { return ["mailbox-admin path gave no answer"] }
        var failures: [String] = []
        if diagnosis.a.behaviour != .endpointDependent {
            failures.append("mailbox-admin path: \(names[symmetric])'s NAT is \(diagnosis.a.behaviour.rawValue), not endpoint-dependent (\(diagnosis.a.explanation))")
        }
        if diagnosis.b.behaviour != .endpointIndependent {
            failures.append("mailbox-admin path: \(names[cone])'s NAT is \(diagnosis.b.behaviour.rawValue), not endpoint-independent (\(diagnosis.b.explanation))")
        }
        if diagnosis.path != .relay { failures.append("mailbox-admin path: \(names[symmetric])↔\(names[cone]) is \(diagnosis.path.rawValue), not relay") }
        let expected = "relayed: \(ids[symmetric]) is behind an endpoint-dependent (symmetric) NAT"
        if !diagnosis.verdict.hasPrefix(expected) { failures.append("mailbox-admin path verdict: \(diagnosis.verdict)") }
        if !text.contains("verdict: \(expected)") || !text.contains("NAT: endpoint-dependent") {
            failures.append("mailbox-admin path's text output names no endpoint-dependent NAT")
        }
        return failures
    }

    /// Runs the `mailbox-admin` next to this binary in the first server's namespace, against
    /// that server, and returns its standard output.
    private func mailboxAdmin(_ arguments: [String]) throws -> String {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("mailbox-admin").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", topology.serverNamespaces[0], binary] + arguments + ["--server", cluster.addresses[0]]
        process.environment = ["P2PCORE_ADMIN_SECRET": cluster.adminSecret]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PathCheckFailed(description: "mailbox-admin \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    struct PathCheckFailed: Error, CustomStringConvertible {
        var description: String
    }
}
