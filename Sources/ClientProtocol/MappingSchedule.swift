/// When a client next asks its servers' UDP side for its public mapping (as STUN does): every
/// ``searching`` until one answered, every ``fastest`` while mappings change, and, while every
/// server keeps seeing the same mapping, twice as long each round up to ``slowest``. Anything
/// that may have moved the mapping (a direct path lost, an attempt that failed, another set of
/// servers) starts over at ``fastest`` (``reset()``).
///
/// Observing is also what keeps the NAT mapping open for hole punching; ``slowest`` stays
/// under the 60 s and more that NATs keep an idle UDP mapping for (RFC 4787 asks for 2 min), and
/// a client refreshes its mapping before it asks for an introduction when the last observation
/// is older than ``fastest`` (``isStale(at:)``). A pure value: the caller passes the time.
package struct MappingSchedule: Sendable {
    package init() {}

    package static let searching: Duration = .seconds(1)
    package static let fastest: Duration = .seconds(5)
    package static let slowest: Duration = .seconds(30)

    /// The delay before the next round.
    package private(set) var interval: Duration = Self.searching
    /// What each server saw last (a symmetric NAT shows each server another mapping: that is
    /// no change as long as each server keeps seeing its own).
    package private(set) var seen: [String: String] = [:]
    /// When the last round that got an answer ended.
    package private(set) var lastObserved: ContinuousClock.Instant?

    /// One round's answers, by server address, at `now`; returns the delay before the next round.
    package mutating func observed(_ answers: [String: String], at now: ContinuousClock.Instant) -> Duration {
        guard !answers.isEmpty else {
            interval = seen.isEmpty ? Self.searching : Self.fastest
            return interval
        }
        let changed = answers.contains { seen[$0.key] != $0.value }
        seen.merge(answers) { $1 }
        lastObserved = now
        interval = changed ? Self.fastest : min(interval * 2, Self.slowest)
        if interval < Self.fastest { interval = Self.fastest }
        return interval
    }

    /// Something may have moved the mapping: the next rounds come at the fast pace again.
    package mutating func reset() {
        interval = seen.isEmpty ? Self.searching : Self.fastest
    }

    /// Keeps only the servers in `servers` (the client observes the ones it is attached to).
    package mutating func keep(_ servers: Set<String>) {
        seen = seen.filter { servers.contains($0.key) }
    }

    /// Whether the mapping is too old to hand to a peer without asking again.
    package func isStale(at now: ContinuousClock.Instant) -> Bool {
        lastObserved.map { now - $0 > Self.fastest } ?? true
    }
}
