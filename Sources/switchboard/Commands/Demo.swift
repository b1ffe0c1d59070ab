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
        let runtime = try await Runtime.make(storage: storage, serve: serve, environment: environment)
        let seeded = DemoSeed.Box()
        let check = check
        // The emulated RetailCRM account (Sandbox) the demo tenant is connected to.
        let retailCRM = RetailCRMEmulator()
        await retailCRM.setModule(DemoSeed.module)
        try await SandboxServer.withRetailCRM(retailCRM) { retailCRMBase in
            try await ServerRunner.run(
                runtime: runtime,
                prepare: { services in seeded.value = try await DemoSeed.seed(services, retailCRM: retailCRMBase) },
                onRunning: { services, boundPort in
                    let base = "http://\(services.settings.host):\(boundPort)"
                    var health = "not checked"
                    if check {
                        let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/health"), timeout: .seconds(5))
                        health = response.map { "HTTP \($0.status.code)" } ?? "no answer"
                    }
                    if !seeded.value.reused { await DemoSeed.placeSampleCalls(base: base, pbxToken: seeded.value.pbxToken) }
                    DemoSeed.printGuide(seeded.value, base: base, retailCRM: retailCRMBase, dataDir: directory, health: check ? health : nil)
                },
                exitWhenReady: check)
        }
    }
}
