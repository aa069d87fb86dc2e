/// Polls `condition` every `interval` until it holds or `timeout` passed; returns whether it
/// held. For state that announces itself only through polling (paths coming up in the
/// background, HTTP endpoints, other processes), never where an event can be awaited.
public func eventually(
    timeout: Duration = .seconds(20), every interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}
