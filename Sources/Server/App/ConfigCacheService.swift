import Logging
import ServiceLifecycle
import Storage

/// Keeps this process's configuration caches current: the gateway cache's jittered background refresh
/// and, on PostgreSQL, a `LISTEN switchboard_config` that drops the caches whenever any instance
/// changes a tenant or an integration (the repositories `NOTIFY` at commit).
public struct ConfigCacheService: Service {
    let services: AppServices

    public init(services: AppServices) {
        self.services = services
    }

    public func run() async throws {
        let (services, gateway) = (services, services.gateway)
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await gateway.runRefresh() }
                if services.database.backend == .postgres {
                    group.addTask {
                        while !Task.isCancelled {
                            do {
                                try await services.database.listen(channel: ConfigChanges.channel) { await services.configChanged() }
                            } catch {
                                if Task.isCancelled { break }
                                services.logger.warning("configuration change listener lost its connection; retrying", metadata: ["error": "\(error)"])
                                // Changes may have been missed while away: start from a clean cache.
                                await services.configChanged()
                                try? await Task.sleep(for: .seconds(1))
                            }
                        }
                    }
                }
                await group.waitForAll()
            }
        }
    }
}
