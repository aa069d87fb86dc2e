import Foundation
import P2PCore
import Synchronization

/// Lines logged by every server process of a test, with a way to await a condition on them.
public final class ClusterLog: Sendable {
    public init() {}

    private let lines = Mutex<[String]>([])
    private let waiters = Mutex<[UUID: AsyncStream<Void>.Continuation]>([:])

    /// Set P2PCORE_TEST_ECHO=1 to see the servers' logs while a test runs.
    private static let echo = ProcessInfo.processInfo.environment["P2PCORE_TEST_ECHO"] != nil

    public func append(_ line: String) {
        if Self.echo { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        lines.withLock { $0.append(line) }
        for waiter in waiters.withLock({ Array($0.values) }) { waiter.yield() }
    }

    public var all: [String] { lines.withLock { $0 } }

    public struct TimedOut: Error, CustomStringConvertible {
        public let what: String
        public var description: String { "timed out waiting for \(what)" }
    }

    /// Returns once `condition` holds on the lines logged so far; throws after `timeout`.
    @discardableResult
    public func wait<T: Sendable>(for what: String, timeout: Duration = .seconds(90), _ condition: @escaping @Sendable ([String]) -> T?) async throws -> T {
        let key = UUID()
        let (events, continuation) = AsyncStream<Void>.makeStream()
        waiters.withLock { $0[key] = continuation }
        defer { _ = waiters.withLock { $0.removeValue(forKey: key) } }
        continuation.yield()  // check what is already there
        defer { continuation.finish() }
        do {
            return try await withDeadline(timeout, what) {
                for await _ in events {
                    if let result = condition(self.all) { return result }
                }
                throw CancellationError()
            }
        } catch is DeadlineExceeded {
            throw TimedOut(what: what)
        }
    }
}


extension ClusterLog {
    /// The leader every one of `servers` reports in its latest "leader changed" line, if they
    /// all report the same one.
    public static func agreedLeader(_ lines: [String], servers: [String]) -> (leader: String, term: Int)? {
        var latest: [String: (String, Int)] = [:]
        for line in lines where line.contains("leader changed") {
            guard let name = servers.first(where: { line.hasPrefix("[\($0)]") }),
                  let leader = field("raft.leader", in: line), let term = field("raft.term", in: line).flatMap(Int.init)
            else { continue }
            latest[name] = (leader, term)
        }
        let reports = servers.compactMap { latest[$0] }
        guard reports.count == servers.count, let first = reports.first, first.0 != "none",
              reports.allSatisfy({ $0 == first }) else { return nil }
        return first
    }

    /// The value of `key=value` in a log line.
    public static func field(_ key: String, in line: String) -> String? {
        guard let range = line.range(of: key + "=") else { return nil }
        return String(line[range.upperBound...].prefix { $0 != " " })
    }
}
