/// Runs `body` with `resource`, then awaits `cleanup` — also when `body` throws — before
/// returning, so that no test leaves a resource behind it (as an un-awaited
/// `defer { Task { … } }` would).
public func withScoped<Resource, R>(
    _ resource: Resource, cleanup: (Resource) async -> Void, _ body: (Resource) async throws -> R
) async throws -> R {
    do {
        let result = try await body(resource)
        await cleanup(resource)
        return result
    } catch {
        await cleanup(resource)
        throw error
    }
}
