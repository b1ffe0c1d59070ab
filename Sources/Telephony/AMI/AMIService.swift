import Asterisk
import Foundation
import Jobs
import Logging
import ServiceLifecycle
import Storage
import SwitchboardCore

/// The live AMI connections by tenant, for click-to-call and the connection status in the API.
public actor PBXConnections {
    private var clients: [String: AMIClient] = [:]

    public init() {}

    func set(_ tenantID: String, _ client: AMIClient?) { clients[tenantID] = client }

    public func client(for tenantID: String) -> AMIClient? { clients[tenantID] }

    public func state(for tenantID: String) -> AMIConnectionState? { clients[tenantID]?.state }
}

/// How a tenant's `asterisk` integration is used, from its settings.
public struct PBXSettings: Sendable, Equatable {
    public var ami: AMIConfiguration
    /// True (`call_events: "ami"`, the default): calls are tracked from AMI events. With `"http"` the
    /// dialplan posts the seed's events and AMI is used for actions (click-to-call, redirect) only.
    public var tracksCalls: Bool
    public var extensionDigits: ClosedRange<Int>
    /// The channel that rings the manager first in click-to-call; `{extension}` is replaced.
    public var originateChannel: String
    /// The dialplan context that dials the customer.
    public var originateContext: String
    /// `smart_redirect: true`: an inbound call starting to ring is moved (AMI `Redirect`) to the
    /// customer's responsible manager in RetailCRM, when one is found within `redirectBudget`.
    public var smartRedirect: Bool
    /// The context the redirected caller enters at the manager's extension (`redirect_context`).
    public var redirectContext: String
    public var redirectBudget: Duration

    public init(_ integration: Integration) throws {
        let settings = integration.settings
        guard let host = settings["host"]?.stringValue, !host.isEmpty else { throw SwitchboardError.invalid("settings.host", "host is required") }
        let port = settings["port"].map { $0.intValue ?? 0 } ?? 5038
        guard (1...65535).contains(port) else { throw SwitchboardError.invalid("settings.port", "port must be 1–65535") }
        ami = AMIConfiguration(host: host, port: port, username: integration.secrets["username"] ?? "", secret: integration.secrets["secret"] ?? "")
        if case .number(let seconds)? = settings["keepalive_seconds"], seconds >= 1, seconds <= 300 { ami.pingInterval = .seconds(seconds) }
        tracksCalls = (settings["call_events"]?.stringValue ?? "ami") != "http"
        extensionDigits = 2...5
        if let text = settings["extension_digits"]?.stringValue {
            let bounds = text.split(separator: "-").compactMap { Int($0) }
            if bounds.count == 2, bounds[0] >= 1, bounds[0] <= bounds[1], bounds[1] <= 10 { extensionDigits = bounds[0]...bounds[1] }
        }
        originateChannel = settings["originate_channel"]?.stringValue ?? "PJSIP/{extension}"
        originateContext = settings["originate_context"]?.stringValue ?? "from-internal"
        smartRedirect = settings["smart_redirect"]?.boolValue ?? false
        redirectContext = settings["redirect_context"]?.stringValue ?? "from-internal"
        redirectBudget = .milliseconds(min(max(settings["redirect_budget_ms"]?.intValue ?? 1000, 50), 5000))
    }
}

/// Keeps one AMI connection per tenant with an enabled `asterisk` integration, feeding its calls to an
/// ``AMICallRecorder``. Looks at the integrations every `refresh`, so connecting, changing or
/// disabling a PBX needs no restart. With several instances on one PostgreSQL, each PBX is connected
/// by exactly one of them (``PBXLeadership``), and taken over by another when that one dies.
public struct AMIService: Service {
    let database: Database
    let secrets: SecretBox
    let queue: JobQueue
    let connections: PBXConnections
    let routes: ResponsibleManagerRouter?
    let refresh: Duration
    let logger: Logger

    /// - Parameter routes: the responsible-manager lookup for tenants with `smart_redirect` (nil: never redirect).
    public init(
        queue: JobQueue, secrets: SecretBox, connections: PBXConnections, routes: ResponsibleManagerRouter? = nil, refresh: Duration = .seconds(30),
        logger: Logger
    ) {
        self.database = queue.database
        self.secrets = secrets
        self.queue = queue
        self.connections = connections
        self.routes = routes
        self.refresh = refresh
        self.logger = logger
    }

    private struct Running {
        var settings: PBXSettings
        var task: Task<Void, Never>
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    // PostgreSQL: several instances may run; each PBX is held by the one with its advisory lock.
                    let shared: Void? = try await database.withSession { session in try await supervise(leadership: PBXLeadership(session: session)) }
                    if shared == nil { try await supervise(leadership: nil) }
                } catch {
                    if Task.isCancelled { break }
                    logger.warning("lost the database session holding the PBX connections; reconnecting", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    /// Keeps the wanted connections running until cancelled; on an error of the leadership session every
    /// connection is stopped first (another instance may take them over) and the error is rethrown.
    private func supervise(leadership: PBXLeadership?) async throws {
        var running: [String: Running] = [:]
        var held: Set<String> = []  // advisory locks stack per session: take each once
        func stop(_ tenantID: String) async {
            guard let entry = running.removeValue(forKey: tenantID) else { return }
            entry.task.cancel()
            await entry.task.value
        }
        do {
            while !Task.isCancelled {
                var desired: [String: (tenant: Tenant, settings: PBXSettings)]?
                do {
                    desired = try await desiredConnections()
                } catch {
                    // Cancelled: the process is stopping, not failing.
                    if !Task.isCancelled { logger.warning("could not read the PBX integrations; keeping the current connections", metadata: ["error": "\(error)"]) }
                }
                if let desired {
                    for (tenantID, entry) in running where desired[tenantID]?.settings != entry.settings {
                        await stop(tenantID)
                        if desired[tenantID] == nil, held.remove(tenantID) != nil { try await leadership?.release(tenantID) }
                    }
                    for (tenantID, wanted) in desired where running[tenantID] == nil {
                        if let leadership, !held.contains(tenantID) {
                            guard try await leadership.acquire(tenantID) else { continue }  // another instance holds this PBX
                            held.insert(tenantID)
                        }
                        running[tenantID] = Running(settings: wanted.settings, task: start(wanted.tenant, wanted.settings))
                    }
                }
                try await leadership?.check()
                try? await Task.sleep(for: refresh)
            }
        } catch {
            for tenantID in Array(running.keys) { await stop(tenantID) }
            await leadership?.releaseAll()
            throw error
        }
        for tenantID in Array(running.keys) { await stop(tenantID) }
        await leadership?.releaseAll()
    }

    private func desiredConnections() async throws -> [String: (tenant: Tenant, settings: PBXSettings)] {
        let stores = Stores(database, secrets: secrets)
        var desired: [String: (Tenant, PBXSettings)] = [:]
        for integration in try await stores.integrations.enabled(kind: .asterisk) {
            guard let tenant = try await stores.tenants.find(integration.tenantID) else { continue }
            do {
                desired[tenant.id] = (tenant, try PBXSettings(integration))
            } catch {
                logger.warning("the tenant's PBX settings are incomplete", metadata: ["tenant": "\(tenant.slug)", "error": "\(error)"])
            }
        }
        return desired
    }

    private func start(_ tenant: Tenant, _ settings: PBXSettings) -> Task<Void, Never> {
        var logger = logger
        logger[metadataKey: "tenant"] = "\(tenant.slug)"
        let client = AMIClient(configuration: settings.ami, logger: logger)
        let redirector = settings.smartRedirect ? routes.map {
            SmartRedirect(tenant: tenant, settings: settings, client: client, routes: $0, database: database, secrets: secrets, logger: logger)
        } : nil
        let recorder = AMICallRecorder(
            tenant: tenant, queue: queue, secrets: secrets,
            parties: PartyClassifier(extensionDigits: settings.extensionDigits, defaultCountry: tenant.defaultCountry), redirect: redirector,
            logger: logger)
        let (connections, tracksCalls) = (connections, settings.tracksCalls)
        return Task {
            await connections.set(tenant.id, client)
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await client.run(onEvent: { event in if tracksCalls { await recorder.handle(event) } })
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(600))
                        await recorder.expireStale()
                    }
                }
                await group.waitForAll()
            }
            await connections.set(tenant.id, nil)
        }
    }
}
