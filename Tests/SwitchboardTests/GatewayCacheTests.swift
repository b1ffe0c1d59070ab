import Foundation
import HummingbirdTesting
import ServiceLifecycle
import Server
import Storage
import SwitchboardCore
import Telephony
import Testing

@Suite("Gateway cache (PBX token → tenant and call targets)")
struct GatewayCacheTests {
    static func tenant(_ id: String) -> Tenant {
        Tenant(id: id, slug: id, name: id, defaultCountry: "RU", timeZone: "Europe/Moscow", createdAt: Date(), updatedAt: Date())
    }

    @Test("hits, misses, one load for many waiting events, negative entries, invalidation and refresh")
    func behaviour() async throws {
        let loads = Locked<[String]>([])
        let known = Locked<Set<String>>(["tok-a"])
        let cache = GatewayCache(ttl: .seconds(90), negativeTTL: .milliseconds(200)) { token in
            loads.withLock { $0.append(token) }
            try await Task.sleep(for: .milliseconds(50))
            return known.withLock { $0.contains(token) } ? .init(tenant: Self.tenant("a"), crmTargets: [.retailcrm]) : nil
        }
        // Fifty events arrive at once for a cold token: one load.
        let found = await withTaskGroup(of: GatewayCache.Entry?.self) { group in
            for _ in 0..<50 { group.addTask { try? await cache.lookup(token: "tok-a") } }
            var all: [GatewayCache.Entry?] = []
            for await entry in group { all.append(entry ?? nil) }
            return all
        }
        #expect(found.allSatisfy { $0?.tenant.id == "a" && $0?.crmTargets == [.retailcrm] })
        #expect(loads.withLock { $0 } == ["tok-a"])
        #expect(try await cache.lookup(token: "tok-a") != nil)
        var stats = await cache.stats()
        #expect(stats.loads == 1 && stats.misses == 50 && stats.hits == 1 && stats.entries == 1 && stats.hitRatio > 0)

        // Unknown tokens are remembered briefly, then asked again.
        #expect(try await cache.lookup(token: "tok-x") == nil)
        #expect(try await cache.lookup(token: "tok-x") == nil)
        #expect(loads.withLock { $0.filter { $0 == "tok-x" }.count } == 1)
        try await Task.sleep(for: .milliseconds(250))
        known.withLock { _ = $0.insert("tok-x") }
        #expect(try await cache.lookup(token: "tok-x") != nil, "a token created since is found after the short negative TTL")

        // Invalidation drops the tenant's entries.
        await cache.invalidate(tenantID: "a")
        #expect(await cache.stats().entries == 0)
        _ = try await cache.lookup(token: "tok-a")
        // The refresh reloads what is due and drops tokens that no longer exist.
        known.withLock { _ = $0.remove("tok-a") }
        await cache.refresh(olderThan: Duration.zero)
        stats = await cache.stats()
        #expect(stats.refreshes >= 1 && stats.invalidations == 1)
        #expect(try await cache.lookup(token: "tok-x") != nil)
        #expect(try await cache.lookup(token: "tok-a") == nil)
    }

    @Test("a configuration write in another process reaches this one's cache through PostgreSQL NOTIFY", .enabled(if: TestBackend.all.contains(.postgres)))
    func notifyInvalidation() async throws {
        try await TestSupport.withApp(.postgres) { client, world in
            let service = ConfigCacheService(services: world.services)
            let group = ServiceGroup(services: [service], logger: TestSupport.logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let token = world.tenantA.pbxToken
                #expect(try await world.services.gateway.lookup(token: token)?.crmTargets == [])
                try await Task.sleep(for: .milliseconds(300))  // the listener is up
                // "Another process": its own stores on the same database, no in-process invalidation.
                let elsewhere = Stores(world.services.database, secrets: world.services.secrets)
                _ = try await elsewhere.integrations.save(
                    tenantID: world.tenantA.tenant.id, kind: .retailcrm,
                    change: .init(enabled: true, settings: ["base_url": "http://127.0.0.1:1"], secrets: ["api_key": "k-123456"]))
                let gateway = world.services.gateway
                #expect(try await AMIClientTests.eventually { (try? await gateway.lookup(token: token))?.crmTargets == [.retailcrm] })
                // The same through the API: a rotated PBX token stops working at once.
                let rotated = try await client.send(.post, "/api/v1/tenants/alpha/pbx-token/rotate", token: world.adminToken)
                #expect(rotated.status == .ok)
                #expect(try await gateway.lookup(token: token) == nil)
                let stats = try await client.send(.get, "/stats", token: world.adminToken)
                #expect((stats.object["gateway_cache"] as? [String: Any])?["ttl_seconds"] as? Int == 90)
                #expect(try await client.send(.post, "/api/v1/cache/invalidate", token: world.adminToken, json: #"{"tenant":"alpha"}"#).status == .ok)
                #expect(try await client.send(.post, "/api/v1/cache/invalidate", token: world.tenantA.apiTokenPlaintext).status == .forbidden)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }
}
