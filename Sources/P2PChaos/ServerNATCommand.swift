import AdminProtocol
import ArgumentParser
import ClusterHarness
import Foundation
import P2PCore
import Synchronization

/// `p2pcore-chaos servernat [--symmetric]`: the acceptance for servers behind NATs (issue 17),
/// on a multi-LAN topology in network namespaces (root only).
///
/// s1 sits on the WAN, s2 behind a cone NAT in LAN2, s3 behind a cone (or, with `--symmetric`,
/// a symmetric) NAT in LAN3; no port forwarding, and the routers drop unsolicited inbound
/// traffic. Each server lists the others' listen addresses, so s1 lists two LAN addresses it
/// cannot dial and s2 and s3 list each other's LAN address: only s2→s1 and s3→s1 can be
/// dialled, and s2↔s3 must be punched (cone) or relayed through s1 (symmetric).
struct ServerNATCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "servernat",
        abstract: "Servers behind NATs in network namespaces: bootstrap, server links, failover (root; skips elsewhere, saying why).",
        discussion: """
        Topology: server s1 and one client on a WAN; LAN2 with server s2 and two clients behind a cone NAT; \
        LAN3 with server s3 and two clients behind a cone NAT (--symmetric: a symmetric NAT). No port \
        forwarding; the routers drop unsolicited inbound traffic. Clients have direct tunnels off, so every \
        message goes through the servers' mailboxes.

        Checks: the servers bootstrap into one cluster; `mailbox-admin status --json` from every server \
        agrees on the leader and shows s2↔s3 as udp-punched (--symmetric: relayed via s1). Then, with \
        messages streaming LAN2↔LAN3 and to and from the WAN, s1 (made the leader first) is SIGKILLed. \
        Cone: s2 and s3 elect a leader within 5 s and LAN2↔LAN3 traffic goes on through them. Symmetric: \
        s2 and s3 have no path to each other, so no quorum and no leader, and no send is committed while s1 \
        is down. Finally s1 is restarted, and every accepted message must arrive exactly once, in order.

        Prints one summary line (for --symmetric also a line saying what happened after the kill); exits \
        non-zero on any failure. P2PCORE_TEST_ECHO=1 shows the servers' logs while it runs.

        Examples:
          p2pcore-chaos servernat
          p2pcore-chaos servernat --symmetric

        """
    )

    @Flag(help: "Put s3 behind a symmetric NAT (s2↔s3 cannot be punched: relayed via s1).")
    var symmetric = false

    @Option(help: "Messages per second of each of the six streams.")
    var rate = 25

    func run() async throws {
        if let reason = MultiLANTopology.unavailableReason {
            print("servernat: SKIPPED — \(reason) (the servers-behind-NAT test builds network namespaces with NAT routers; run as root with iproute2 and iptables)")
            return
        }
        let run = try ServerNATRun(symmetric: symmetric)
        let interrupts = run.abortOnSignals()
        let passed: Bool
        do {
            passed = try await run.execute(rate: rate)
        } catch {
            print("servernat\(symmetric ? " --symmetric" : ""): error: \(error) result=FAIL")
            passed = false
        }
        await run.stop(keepLogs: !passed)
        for source in interrupts { source.cancel() }
        if !passed { throw ExitCode(1) }
    }
}

/// Client output lines, handed to the checker once it exists (no line needs it before).
final class CheckerSink: Sendable {
    let checker = Mutex<DeliveryChecker?>(nil)

    func set(_ checker: DeliveryChecker) { self.checker.withLock { $0 = checker } }

    func handle(_ line: String, from client: Int) {
        checker.withLock { $0 }?.handle(line, from: client)
    }
}

func format(_ duration: Duration) -> String {
    let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    return String(format: "%.1fs", seconds)
}

extension Array where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async -> T) async -> [T] {
        var results: [T] = []
        for element in self { results.append(await transform(element)) }
        return results
    }
}
