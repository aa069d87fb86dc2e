import AdminProtocol
import ClusterHarness
import Foundation
import P2PClient
import P2PCore
import P2PServer
import Testing
import TestSupport

/// Headless Chromium (Debian's `chromium`, installed by Scripts/ensure-deps).
enum Chromium {
    static var binary: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return "\(directory)/\(name)"
            }
        }
        return nil
    }

    static var underCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Runs `chromium --headless … arguments url`; returns its standard output. Killed after `timeout`.
    /// The output goes to a file, read once the process exited: a helper process chromium leaves
    /// behind would hold a pipe open, and a read to its end would never return.
    static func run(_ binary: String, _ arguments: [String], timeout: Duration = .seconds(90)) async throws -> String {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-chromium-\(UUID().uuidString).out").path
        try #require(FileManager.default.createFile(atPath: outputPath, contents: nil), "cannot create \(outputPath)")
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let output = try #require(FileHandle(forWritingAtPath: outputPath))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars"] + arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { exited.continuation.yield($0.terminationStatus) }
        try process.run()
        let killer = Task {
            try await Task.sleep(for: timeout)
            process.terminate()
            try await Task.sleep(for: .seconds(5))
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        defer { killer.cancel() }
        var codes = exited.stream.makeAsyncIterator()
        let code = await codes.next() ?? -1
        try #require(code == 0, "chromium \(arguments) exited \(code)")
        return try String(contentsOfFile: outputPath, encoding: .utf8)
    }
}

/// What a PNG file says about itself: its IHDR dimensions, and whether it looks like a picture.
struct PNGFile {
    let width: Int
    let height: Int
    let size: Int
    /// Shannon entropy of the file's bytes, in bits per byte.
    let entropy: Double

    init(path: String) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        try #require(bytes.count > 33 && bytes.prefix(8).elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "not a PNG: \(path)")
        try #require(bytes[12..<16].elementsEqual(Array("IHDR".utf8)), "the PNG does not start with IHDR")
        func be32(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        width = be32(16)
        height = be32(20)
        size = bytes.count
        var counts = [Int](repeating: 0, count: 256)
        for byte in bytes { counts[Int(byte)] += 1 }
        entropy = counts.filter { $0 > 0 }.reduce(0.0) { total, count in
            let p = Double(count) / Double(bytes.count)
            return total - p * log2(p)
        }
    }
}

extension ServerProcessSuites {
@Suite struct MonitorPageTests {
    static let screenshot = "/tmp/p2pcore-status-page.png"

    @Test(.enabled(if: Chromium.binary != nil || Chromium.underCI, "chromium is not installed (Scripts/ensure-deps installs it): the status page test runs only with it"))
    func theStatusPageShowsTheClusterAndEachPairsPath() async throws {
        let chromium = try #require(Chromium.binary, "chromium is not installed: run Scripts/ensure-deps (required when CI=true)")
        let scratch = TemporaryDirectory("monitor-page")
        let cluster = try await InProcessCluster.start(root: scratch.path)
        do {
            let secret = try #require(cluster.adminSecret)
            let port = cluster.monitorPorts[0]
            var aliceConfiguration = cluster.clientConfiguration("alice", direct: true)
            aliceConfiguration.metricsFactory = try #require(cluster.servers[1]).metrics.factory
            try await withClients([
                aliceConfiguration, cluster.clientConfiguration("bob", direct: true),
                cluster.clientConfiguration("carol", direct: false),
            ]) { clients in
                let (alice, bob, carol) = (clients[0], clients[1], clients[2])
                // `send` returns once the recipient's application took the message: Alice and Bob read.
                let readers = [alice, bob].map { client in Task { for try await _ in client.receive() {} } }
                defer { for reader in readers { reader.cancel() } }
                // Alice and Bob: a direct LAN link on loopback (the first message goes through the relay).
                try await alice.send(to: bob.id, data: RelayDeliveryTests.payload(0), timeout: .seconds(30))
                var sent = 1
                let direct = try await eventually(timeout: .seconds(30), every: .milliseconds(200)) {
                    try await alice.send(to: bob.id, data: RelayDeliveryTests.payload(sent), timeout: .seconds(30))
                    sent += 1
                    return await alice.directPaths()[bob.id] != nil
                }
                try #require(direct, "no direct path between alice and bob")
                for i in 0..<3 { try await alice.send(to: bob.id, data: RelayDeliveryTests.payload(100 + i), timeout: .seconds(30)) }
                let clientMetrics = try PrometheusText(parsing: try await HTTP.get(port: cluster.monitorPorts[1], "/metrics", bearer: cluster.adminSecret).body)
                #expect((clientMetrics.value("p2pcore_client_send_seconds_count", ["path": "direct"]) ?? 0) >= 3, "direct sends are not timed")
                // Carol has direct paths off: her messages to Alice go through the relay.
                try await carol.send(to: alice.id, data: RelayDeliveryTests.payload(1), timeout: .seconds(30))

                let pairDirect = Self.pair(alice.id, bob.id), pairRelay = Self.pair(alice.id, carol.id)
                var status: MonitorStatus?
                let shown = try await eventually(timeout: .seconds(30), every: .milliseconds(250)) {
                    let reply = try await HTTP.get(port: port, "/status", bearer: secret)
                    guard reply.status == 200 else { return false }
                    status = try JSONDecoder().decode(MonitorStatus.self, from: Data(reply.body.utf8))
                    let pairs = status?.pairs ?? []
                    return pairs.contains { "\($0.a)|\($0.b)" == pairDirect && $0.path == "direct" }
                        && pairs.contains { "\($0.a)|\($0.b)" == pairRelay && $0.path == "relay" }
                }
                try #require(shown, "/status does not show both paths: \(String(describing: status?.pairs))")
                #expect(status?.servers.count == 3 && status?.leader != nil)
                let listed = Set((status?.clients ?? []).map(\.id))
                #expect(listed.isSuperset(of: [alice.id, bob.id, carol.id]))

                // The page as a browser renders it, with the admin secret as basic-auth password.
                let url = "http://ops:\(secret)@127.0.0.1:\(port)/"
                let dom = try await Chromium.run(chromium, ["--virtual-time-budget=5000", "--dump-dom", url])
                #expect(dom.contains("data-pair=\"\(pairDirect)\" data-path=\"direct\""), "the rendered page lacks the direct pair:\n\(dom.prefix(4000))")
                #expect(dom.contains("data-pair=\"\(pairRelay)\" data-path=\"relay\""), "the rendered page lacks the relayed pair")
                #expect(dom.contains("data-role=\"leader\""), "the rendered page shows no leader")
                #expect(!dom.contains("HTTP 401"), "the page's polls were refused")

                try? FileManager.default.removeItem(atPath: Self.screenshot)
                _ = try await Chromium.run(chromium, ["--virtual-time-budget=5000", "--window-size=1280,900", "--screenshot=\(Self.screenshot)", url])
                let png = try PNGFile(path: Self.screenshot)
                #expect(png.width == 1280 && png.height == 900, "screenshot is \(png.width)×\(png.height)")
                // A blank 1280×900 page compresses to a few kilobytes of low-entropy bytes.
                #expect(png.size > 20_000, "screenshot of \(png.size) bytes: blank?")
                #expect(png.entropy > 6, "screenshot bytes have \(png.entropy) bits of entropy: blank?")
            }
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    /// A pair as the page and `/status` write it: the smaller id first.
    static func pair(_ x: NodeID, _ y: NodeID) -> String { x < y ? "\(x)|\(y)" : "\(y)|\(x)" }
}
}
