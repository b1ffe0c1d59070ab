import Jobs
import Synchronization
import Testing

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let value = Mutex(1000.0)
    var now: Double { value.withLock { $0 } }
    func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
}

@Suite("Rate limits and circuit breakers")
struct LimitsTests {
    @Test("a token bucket allows its burst at once, then its rate")
    func tokenBucketBurstAndRate() async {
        let clock = ManualClock()
        let limiter = RateLimiter(now: { clock.now })
        // Bitrix24: 50 at once…
        for _ in 0..<50 { #expect(await limiter.reserve("t1:bitrix24", limit: .bitrix24) == .zero) }
        // …then one every half second, reserved in order.
        #expect(await limiter.reserve("t1:bitrix24", limit: .bitrix24) == .milliseconds(500))
        #expect(await limiter.reserve("t1:bitrix24", limit: .bitrix24) == .seconds(1))
        clock.advance(1)
        #expect(await limiter.reserve("t1:bitrix24", limit: .bitrix24) == .milliseconds(500))
        // Another key is unaffected.
        #expect(await limiter.reserve("t2:bitrix24", limit: .bitrix24) == .zero)

        // Over 10 simulated seconds at most burst + rate·t requests go out without waiting.
        let amo = RateLimiter(now: { clock.now })
        var sent = 0
        for step in 0..<1000 {
            if await amo.reserve("t1:amocrm", limit: .amocrm) == .zero { sent += 1 } else { clock.advance(0.01) }
            if step % 10 == 0 { clock.advance(0.01) }
        }
        #expect(sent <= 7 + Int(7 * 12))
    }

    @Test("Retry-After pauses that key only")
    func pause() async {
        let clock = ManualClock()
        let limiter = RateLimiter(now: { clock.now })
        await limiter.pause("a:retailcrm", for: .seconds(30))
        #expect(await limiter.reserve("a:retailcrm", limit: .retailcrm) == .seconds(30))
        #expect(await limiter.reserve("b:retailcrm", limit: .retailcrm) == .zero)
        clock.advance(31)
        #expect(await limiter.reserve("a:retailcrm", limit: .retailcrm) == .zero)
    }

    @Test("breaker: closed → open after N failures → half-open probe → closed or open again")
    func breakerTransitions() {
        var breaker = CircuitBreaker(failureThreshold: 3, openDuration: 10)
        for _ in 0..<2 {
            let allowed = breaker.allow(now: 0)
            #expect(allowed)
            breaker.record(success: false, now: 0)
        }
        #expect(breaker.stateName == "closed")
        breaker.record(success: false, now: 0)
        #expect(breaker.stateName == "open")
        let allowed5x = breaker.allow(now: 5)
        #expect(!allowed5x)
        let allowed10x = breaker.allow(now: 10)
        #expect(allowed10x)  // the probe
        #expect(breaker.stateName == "half_open")
        let secondProbe = breaker.allow(now: 10)
        #expect(!secondProbe)  // one probe at a time
        breaker.record(success: false, now: 10)
        #expect(breaker.stateName == "open")
        let allowed20x = breaker.allow(now: 20)
        #expect(allowed20x)
        breaker.record(success: true, now: 20)
        #expect(breaker.stateName == "closed" && breaker.consecutiveFailures == 0)
    }

    @Test("breakers are per key")
    func breakersPerKey() async {
        let clock = ManualClock()
        let breakers = CircuitBreakers(now: { clock.now }, make: { CircuitBreaker(failureThreshold: 1, openDuration: 5) })
        await breakers.record("a:retailcrm", success: false)
        #expect(await breakers.allow("a:retailcrm") == false)
        #expect(await breakers.allow("b:retailcrm") == true)
        #expect(await breakers.snapshot()["a:retailcrm"] == "open")
    }
}
