import ClientProtocol
import P2PCore
import Testing
@testable import P2PClient

/// Which servers a client attaches to: rendezvous ranking, the bound, and the fall-over.
@Suite struct AttachmentPlanTests {
    let addresses = (1...6).map { "10.0.0.\($0):7400" }

    @Test func theRankingIsStablePerClientAndSpreadsClientsEvenly() {
        let client = NodeID.random()
        let ranked = AttachmentPlan.ranked(addresses, for: client)
        #expect(Set(ranked) == Set(addresses))
        #expect(AttachmentPlan.ranked(addresses.reversed(), for: client) == ranked, "the configured order does not matter")
        #expect(AttachmentPlan.ranked(addresses + [addresses[0]], for: client) == ranked, "duplicates count once")
        // Removing a server moves only the clients that ranked it first.
        #expect(AttachmentPlan.ranked(addresses.filter { $0 != ranked[0] }, for: client) == Array(ranked.dropFirst()))

        var firsts: [String: Int] = [:]
        for _ in 0..<6_000 { firsts[AttachmentPlan.ranked(addresses, for: .random())[0], default: 0] += 1 }
        #expect(firsts.count == 6 && firsts.values.allSatisfy { (800...1_200).contains($0) }, "uneven: \(firsts)")
    }

    @Test func aDownServerIsStoodInForAfterTheDelayAndReleasedWhenBack() {
        var plan = AttachmentPlan(addresses: addresses, client: .random(), maximum: 2)
        let ranked = plan.ranked
        let start = ContinuousClock.now
        #expect(plan.wanted(at: start) == Array(ranked.prefix(2)))
        for address in ranked.prefix(2) { plan.dialling(address) }
        plan.connected(ranked[0])
        let wentDown = plan.disconnected(ranked[1], at: start)
        let downAgain = plan.disconnected(ranked[1], at: start + .seconds(1))
        #expect(wentDown && !downAgain, "down once, until it is back")
        #expect(plan.wanted(at: start + .seconds(1)) == Array(ranked.prefix(2)), "a brief outage changes nothing")
        let later = start + AttachmentPlan.failoverDelay
        #expect(plan.wanted(at: later) == Array(ranked.prefix(3)), "the third stands in and the second is still dialled")
        plan.dialling(ranked[2])
        plan.connected(ranked[2])
        plan.connected(ranked[1])
        #expect(plan.wanted(at: later) == Array(ranked.prefix(2)), "the stand-in is released once the preferred server is back")
        plan.released(ranked[2])
        let releasedDown = plan.disconnected(ranked[2], at: later)
        #expect(!releasedDown, "a released address's link ending is no outage")

        // Everything down: every address is dialled.
        for address in ranked { plan.dialling(address) }
        for address in ranked { _ = plan.disconnected(address, at: later) }
        #expect(plan.wanted(at: later + AttachmentPlan.failoverDelay) == ranked)
    }

    @Test func theMappingIsObservedLessOftenWhileItStaysTheSame() {
        var schedule = MappingSchedule()
        let start = ContinuousClock.now
        let searching = schedule.observed([:], at: start)
        #expect(searching == MappingSchedule.searching)
        #expect(schedule.isStale(at: start))
        let seen = ["s1": "203.0.113.7:4000", "s2": "203.0.113.7:4000"]
        let firstSeen = schedule.observed(seen, at: start)
        #expect(firstSeen == MappingSchedule.fastest)
        #expect(!schedule.isStale(at: start + .seconds(1)))
        var intervals: [Duration] = []
        for round in 1...5 { intervals.append(schedule.observed(seen, at: start + .seconds(round))) }
        #expect(intervals == [.seconds(10), .seconds(20), .seconds(30), .seconds(30), .seconds(30)])
        // A symmetric NAT (each server sees its own mapping) is stable too, as long as each stays.
        let symmetric = ["s1": "203.0.113.7:4000", "s2": "203.0.113.7:4001"]
        let changed = schedule.observed(symmetric, at: start)
        let same = schedule.observed(symmetric, at: start)
        #expect(changed == MappingSchedule.fastest && same == .seconds(10))
        schedule.reset()
        #expect(schedule.interval == MappingSchedule.fastest, "a reset goes back to the fast pace")
    }
}
