import P2PCore

/// Many ``SimulatedClient``s of one cluster in this process, with shared counters and a count
/// of attached clients per server.
public final class SimulatedFleet: Sendable {
    public let configuration: FleetConfiguration
    public let clients: [SimulatedClient]
    public let board: AttachmentBoard
    public let counters = FleetCounters()

    /// `count` clients numbered from `firstIndex` (fleets side by side take disjoint ranges: the
    /// number picks the source address), with fresh identities, or with identities derived from
    /// `seed` and their number (``SeededIdentity``) so that other processes can know their ids.
    public init(count: Int, firstIndex: Int = 0, seed: UInt64? = nil, configuration: FleetConfiguration) {
        self.configuration = configuration
        let board = AttachmentBoard(servers: configuration.servers.count)
        self.board = board
        let counters = counters
        clients = (firstIndex..<firstIndex + count).map { index in
            let identity = seed.map { SeededIdentity.identity(seed: $0, index: index) } ?? .generate()
            return SimulatedClient(index: index, identity: identity, configuration: configuration, board: board, counters: counters)
        }
    }

    public func start() { for client in clients { client.start() } }
    public func stop() { for client in clients { client.stop() } }

    /// Clients attached to every server.
    public var attachedEverywhere: Int {
        let servers = configuration.servers.count
        return clients.count { $0.attachedServers.count == servers }
    }

    /// Waits until `count` clients are attached to server number `server` (every server when
    /// `nil`); returns how long that took, or `nil` if it did not happen within `timeout`.
    public func waitUntilAttached(
        server: Int? = nil, count: Int, timeout: Duration, progress: ([Int]) -> Void = { _ in }
    ) async -> Duration? {
        await waitUntil(timeout: timeout, progress: progress) { counts in
            server.map { counts[$0] >= count } ?? counts.allSatisfy { $0 >= count }
        }
    }

    /// Waits until `condition` holds for the attached counts per server; returns how long that
    /// took, or `nil` if it did not within `timeout`. Polls every 20 ms (`progress` gets the
    /// counts about once a second).
    public func waitUntil(timeout: Duration, progress: ([Int]) -> Void = { _ in }, _ condition: ([Int]) -> Bool) async -> Duration? {
        let clock = ContinuousClock()
        let start = clock.now
        var lastProgress = start
        while clock.now - start < timeout {
            let counts = board.all
            if condition(counts) { return clock.now - start }
            if clock.now - lastProgress >= .seconds(1) {
                lastProgress = clock.now
                progress(counts)
            }
            do { try await Task.sleep(for: .milliseconds(20)) } catch { return nil }
        }
        return nil
    }
}
