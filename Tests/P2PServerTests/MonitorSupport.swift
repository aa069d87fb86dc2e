import ClusterHarness
import Foundation
import Logging
import NIOCore
import NIOPosix
import P2PClient
import P2PCore
import P2PServer
import Testing
import TestSupport

/// Three (or more) ``P2PServer``s in this process, each with its monitor on a port of its own:
/// the monitor tests stop and restart them by hand. Used from one task at a time.
final class InProcessCluster {
    let root: String
    private(set) var configurations: [ServerConfiguration]
    private(set) var servers: [P2PServer?]
    let secret: String
    let adminSecret: String?

    var addresses: [String] { configurations.map { "127.0.0.1:\($0.listenPort)" } }
    var monitorPorts: [Int] { configurations.map { $0.monitorAddress?.port ?? 0 } }

    private init(root: String, configurations: [ServerConfiguration], secret: String, adminSecret: String?) {
        self.root = root
        self.configurations = configurations
        servers = Array(repeating: nil, count: configurations.count)
        self.secret = secret
        self.adminSecret = adminSecret
    }

    /// Starts `size` servers that list each other as peers and returns once all are ready.
    static func start(size: Int = 3, adminSecret: String? = Secret.generate(), root: String) async throws -> InProcessCluster {
        let ports = try await ServerProcess.freePorts(size * 2)
        let secret = Secret.generate(), serverSecret = Secret.generate()
        let addresses = (0..<size).map { "127.0.0.1:\(ports[$0])" }
        let configurations = (0..<size).map { index in
            var configuration = ServerConfiguration()
            configuration.listenPort = ports[index]
            configuration.peers = addresses.filter { $0 != addresses[index] }
            configuration.dataDirectory = "\(root)/s\(index + 1)"
            configuration.secret = secret
            configuration.serverSecret = serverSecret
            configuration.adminSecret = adminSecret
            configuration.monitorAddress = HostPort(host: "127.0.0.1", port: ports[size + index])
            return configuration
        }
        let cluster = InProcessCluster(root: root, configurations: configurations, secret: secret, adminSecret: adminSecret)
        do {
            for index in 0..<size { try await cluster.start(index) }
            try await cluster.waitUntilReady()
        } catch {
            await cluster.stopAll()
            throw error
        }
        return cluster
    }

    func start(_ index: Int) async throws {
        var logger = Logger(label: "p2pcore.test.s\(index + 1)")
        logger.logLevel = .warning
        servers[index] = try await P2PServer.start(configuration: configurations[index], logger: logger)
    }

    func stop(_ index: Int) async {
        await servers[index]?.shutdown()
        servers[index] = nil
    }

    func stopAll() async {
        for index in servers.indices { await stop(index) }
    }

    /// Waits until every running server is ready (a member with a leader, caught up).
    func waitUntilReady(timeout: Duration = .seconds(60)) async throws {
        let running = servers.compactMap { $0 }
        let ready = try await eventually(timeout: timeout) {
            for server in running where await !server.readiness().ready { return false }
            return true
        }
        try #require(ready, "the in-process cluster did not become ready")
    }

    /// A client of this cluster with its state under the cluster's root.
    func clientConfiguration(_ name: String, direct: Bool) -> ClientConfiguration {
        var configuration = ClientConfiguration(servers: addresses)
        configuration.stateDirectory = "\(root)/\(name)"
        configuration.secret = secret
        configuration.listenHost = "127.0.0.1"
        configuration.directTunnels = direct
        return configuration
    }
}


/// A minimal HTTP/1.1 GET over NIO (the tests need nothing more, and no URLSession).
enum HTTP {
    struct Reply: Sendable {
        let status: Int
        let headers: [String: String]
        let body: String
    }

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// A request the server did not answer in time (a test fails with it rather than hang).
    struct NoAnswer: Error, CustomStringConvertible {
        let description: String
    }

    /// GETs `path` from the monitor at `port`; throws ``NoAnswer`` after `timeout`.
    static func get(
        port: Int, _ path: String, bearer: String? = nil, basic: (String, String)? = nil, timeout: Duration = .seconds(15)
    ) async throws -> Reply {
        try await withThrowingTaskGroup(of: Reply.self) { group in
            group.addTask { try await request(port: port, path, bearer: bearer, basic: basic) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw NoAnswer(description: "GET \(path) on port \(port): no answer within \(timeout)")
            }
            defer { group.cancelAll() }
            guard let reply = try await group.next() else { throw NoAnswer(description: "GET \(path): no result") }
            return reply
        }
    }

    private static func request(port: Int, _ path: String, bearer: String?, basic: (String, String)?) async throws -> Reply {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let bearer { request += "Authorization: Bearer \(bearer)\r\n" }
        if let (user, password) = basic { request += "Authorization: Basic \(Data("\(user):\(password)".utf8).base64EncodedString())\r\n" }
        request += "\r\n"
        let bytes = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var bytes: [UInt8] = []
            for try await buffer in inbound { bytes += buffer.readableBytesView }
            return bytes
        }
        return try parse(bytes)
    }

    static func parse(_ bytes: [UInt8]) throws -> Reply {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Malformed(description: "no end of headers in \(text.prefix(200))") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Malformed(description: "bad status line \(lines.first ?? "")") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = String(text[split.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = try dechunk(body) }
        return Reply(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ chunked: String) throws -> String {
        var rest = Substring(chunked)
        var body = ""
        while let lineEnd = rest.range(of: "\r\n") {
            guard let size = Int(rest[..<lineEnd.lowerBound], radix: 16) else { throw Malformed(description: "bad chunk size") }
            if size == 0 { break }
            let start = lineEnd.upperBound
            let utf8 = rest[start...].utf8
            let end = utf8.index(utf8.startIndex, offsetBy: size)
            body += String(decoding: utf8[utf8.startIndex..<end], as: UTF8.self)
            rest = rest[end...].dropFirst(2)
        }
        return body
    }
}
