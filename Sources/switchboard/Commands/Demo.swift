import Analytics
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Sandbox
import Server
import Storage
import SwitchboardCore

/// `switchboard demo` — the whole product on a throwaway SQLite database with sample data.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start Switchboard on a temporary SQLite database with a sample tenant, and show how to use it.")

    @Option(help: "Port to bind (0 picks a free one).") var port: Int = 8080
    @Option(help: "Keep data here instead of a fresh temporary directory.") var dataDir: String?
    @Option(help: "Keep the sample tenant's CRM mirror on this PostgreSQL (postgres://user:password@host:5432/db, schema switchboard_demo) instead of its SQLite file.")
    var mirrorURL: String?
    @Flag(help: "Start, check /health, print the guide, and exit (for smoke tests).") var check = false

    func run() async throws {
        let directory = dataDir ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("switchboard-demo-\(UUID().uuidString.prefix(8).lowercased())").path
        var storage = try StorageOptions.parse([])
        storage.dataDir = directory
        storage.logFormat = "text"
        storage.logLevel = "warning"
        var serve = try ServeOptions.parse([])
        serve.port = port
        serve.bcryptCost = 10
        // The demo never touches DATABASE_URL: it is always the embedded SQLite.
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = nil
        let baseRuntime = try await Runtime.make(storage: storage, serve: serve, environment: environment)
        let seeded = DemoSeed.Box()
        let (check, mirrorURL) = (check, mirrorURL)
        // The emulated RetailCRM account and PBX (Sandbox): never a real CRM or phone system.
        let retailCRM = RetailCRMEmulator()
        // The emulated Bitrix24 portal: 100,000 deals and more, generated on demand from a seed.
        let bitrix24 = Bitrix24Emulator(deals: 100_000, contacts: 8_000, leads: 6_000, companies: 1_500, seed: 2026)
        // The emulated amoCRM account: 10,000 leads with contacts and companies, OAuth, webhooks, calls.
        let amoCRM = AmoCRMEmulator(leads: 10_000, contacts: 2_500, companies: 400, seed: 2026)
        let pbx = PBXSimulator(username: "switchboard", secret: "demo-ami-secret-123", endpoints: ["100", "101", "102"])
        await pbx.onOriginate { action in
            // Click-to-call: the manager picks up, then the customer answers.
            let number = (action["Channel"] ?? "").split(separator: "/").last.map(String.init) ?? "101"
            return PBXScenarios.clickToCall(id: Date().timeIntervalSince1970, extension: number, customer: action["Exten"] ?? "+79161234567", talk: 5)
        }
        // The Sandbox's OpenAI-compatible fake model, unless OPENAI_BASE_URL / OPENAI_API_KEY name a real one.
        let llm = FakeLLM(apiKey: "sk-sandbox")
        let analytics = DemoAnalytics.ServicesBox()
        await llm.setBrain(DemoAnalytics.brain(analytics))
        let realLLM = baseRuntime.llm != nil
        try await SandboxServer.withLLM(llm) { llmBase in
        var runtime = baseRuntime
        if !realLLM { runtime.llm = LLMSettings(baseURL: llmBase, apiKey: "sk-sandbox", timeout: .seconds(10)) }
        let llmBaseShown = realLLM ? (runtime.llm?.baseURL ?? "") : llmBase + " (Sandbox fake model)"
        let serving = runtime
        try await PBXSimulator.run(pbx) { pbxPort in
            try await SandboxServer.withRetailCRM(retailCRM) { retailCRMBase in
              try await SandboxServer.withBitrix24(bitrix24) { bitrix24Base in
               try await SandboxServer.withAmoCRM(amoCRM) { amoCRMBase in
                try await ServerRunner.run(
                    runtime: serving,
                    prepare: { services in
                        seeded.value = try await DemoSeed.seed(
                            services, retailCRM: retailCRMBase, pbxPort: pbxPort, bitrix24: bitrix24Base, portal: bitrix24, amoCRM: amoCRMBase, account: amoCRM)
                        analytics.value = (services, seeded.value.tenantID)
                        if !seeded.value.reused { try await DemoAnalytics.seedCallHistory(services, tenantID: seeded.value.tenantID) }
                        if let mirrorURL {
                            // Checked like any tenant's address: a bad one stops the demo with the field named.
                            _ = try await services.stores.integrations.save(
                                tenantID: seeded.value.tenantID, kind: .postgres,
                                change: .init(enabled: true, settings: ["schema": "switchboard_demo"], secrets: ["url": mirrorURL]))
                        }
                    },
                    onRunning: { services, boundPort in
                        let base = "http://\(services.settings.host):\(boundPort)"
                        var health = "not checked"
                        if check {
                            let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/health"), timeout: .seconds(5))
                            health = response.map { "HTTP \($0.status.code)" } ?? "no answer"
                        }
                        // Registers the module first: the emulated RetailCRM refuses telephony until a module is active.
                        let accountURL = await DemoSeed.registerModule(services, base: base, seeded: seeded.value)
                        // The Switchboard app is installed in the emulated portal: tokens, events (online and offline), telephony.
                        await DemoSeed.installBitrix24App(services, emulator: bitrix24, base: base, seeded: seeded.value)
                        await DemoSeed.connectAmoCRM(services, emulator: amoCRM, base: base, seeded: seeded.value)
                        if !seeded.value.reused {
                            await DemoSeed.startMirror(services, seeded: seeded.value)
                            await DemoSeed.placeSampleCalls(base: base, pbxToken: seeded.value.pbxToken)
                            await DemoSeed.createSamplePeople(base: base, seeded: seeded.value)
                            let tenantID = seeded.value.tenantID
                            Task { await DemoAnalytics.buildDashboard(services, tenantID: tenantID) }
                            // And one call seen over AMI, once the PBX connection is up.
                            Task {
                                for _ in 0..<50 where await pbx.connectedSessions == 0 { try? await Task.sleep(for: .milliseconds(200)) }
                                await pbx.broadcast(PBXScenarios.inbound(id: Date().timeIntervalSince1970, caller: "+375296254070", extension: "100", answered: true, talk: 3))
                            }
                        }
                        DemoSeed.printGuide(
                            seeded.value, base: base, retailCRM: retailCRMBase, bitrix24: bitrix24Base, amoCRM: amoCRMBase, pbxPort: pbxPort, dataDir: directory,
                            health: check ? health : nil, accountURL: accountURL, mirrorURL: mirrorURL, llm: llmBaseShown)
                    },
                    exitWhenReady: check)
               }
              }
            }
        }
        }
    }
}
