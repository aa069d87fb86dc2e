import Testing
@testable import SimulatedClients

@Suite struct RendezvousTests {
    @Test func aValueArrivingBeforeOrAfterItsWaiterIsHandedOverOnceAndAnUnfulfilledWaitEndsAtItsDeadline() async {
        let rendezvous = Rendezvous<Int, Int>()
        rendezvous.expect(1)
        rendezvous.fulfil(1, 10)
        #expect(await rendezvous.wait(1, timeout: .seconds(5)) == 10)
        rendezvous.expect(2)
        async let later = rendezvous.wait(2, timeout: .seconds(5))
        try? await Task.sleep(for: .milliseconds(50))
        rendezvous.fulfil(2, 20)
        #expect(await later == 20)
        rendezvous.expect(3)
        #expect(await rendezvous.wait(3, timeout: .milliseconds(50)) == nil)
        #expect(await rendezvous.wait(4, timeout: .seconds(5)) == nil, "an unannounced key ends at once")
    }

    @Test func manyConcurrentWaitsAllEnd() async {
        let rendezvous = Rendezvous<Int, Int>()
        await withTaskGroup(of: Int?.self) { group in
            for key in 0..<2000 {
                rendezvous.expect(key)
                group.addTask { await rendezvous.wait(key, timeout: .seconds(10)) }
                group.addTask {
                    rendezvous.fulfil(key, key)
                    return key
                }
            }
            var count = 0
            for await _ in group { count += 1 }
            #expect(count == 4000)
        }
    }
}
