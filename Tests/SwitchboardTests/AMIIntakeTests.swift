import Asterisk
import Foundation
import HummingbirdTesting
import Jobs
import RetailCRM
import Sandbox
import Server
import ServiceLifecycle
import Storage
import SwitchboardCore
import Telephony
import Testing

@Suite("Native AMI intake and click-to-call, PBX simulator → Switchboard → RetailCRM emulator")
struct AMIIntakeTests {
    @Test("recorded calls pushed over AMI become calls and reach RetailCRM; click-to-call originates on the PBX", arguments: TestBackend.all)
    func endToEnd(backend: TestBackend) async throws {
        let pbx = PBXSimulator()
        let crm = RetailCRMEmulator()
        await crm.setModule(RetailCRMTests.module)
        try await PBXSimulator.run(pbx) { pbxPort in
            try await SandboxServer.withRetailCRM(crm) { crmBase in
                try await TestSupport.withApp(backend) { client, world in
                    let tenantID = world.tenantA.tenant.id
                    let stores = world.services.stores
                    _ = try await stores.integrations.save(
                        tenantID: tenantID, kind: .asterisk,
                        change: .init(enabled: true, settings: ["host": "127.0.0.1", "port": .number(Double(pbxPort)), "keepalive_seconds": 1],
                                      secrets: ["username": "switchboard", "secret": "sandbox-ami-secret"]))
                    _ = try await stores.integrations.save(
                        tenantID: tenantID, kind: .retailcrm,
                        change: .init(enabled: true, settings: ["base_url": .string(crmBase)],
                                      secrets: ["api_key": "sandbox-retailcrm-key", "client_id": "alpha.s3cret-client"]))
                    try await stores.managers.replace(
                        tenantID: tenantID, integration: .retailcrm,
                        with: [ManagerExtension(crmUserID: "18", extensionNumber: "100"), ManagerExtension(crmUserID: "19", extensionNumber: "101")])

                    let ami = AMIService(
                        queue: world.services.jobs, secrets: world.services.secrets, connections: world.services.pbx, refresh: .milliseconds(200),
                        logger: TestSupport.logger)
                    let worker = JobWorker(
                        queue: world.services.jobs, registry: StandardJobs.registry(services: world.services),
                        configuration: .init(concurrency: 4, pollInterval: .milliseconds(50)), logger: TestSupport.logger)
                    let group = ServiceGroup(services: [ami, worker], logger: TestSupport.logger)
                    try await withThrowingTaskGroup(of: Void.self) { tasks in
                        tasks.addTask { try await group.run() }
                        #expect(try await AMIClientTests.eventually { await world.services.pbx.state(for: tenantID) == .connected })

                        // Three real calls, one after another.
                        for (capture, uploads) in [("inbound", 1), ("queue", 2), ("missed-busy", 3), ("click2call", 4)] {
                            await pbx.broadcast(try Fixtures.amiCapture(capture))
                            let arrived = try await AMIClientTests.eventually { await crm.uploadedCalls.count == uploads }
                            #expect(arrived, "\(capture) did not reach RetailCRM")
                        }
                        let uploaded = await crm.uploadedCalls
                        #expect(uploaded.map(\.result) == ["answered", "answered", "busy", "answered"])
                        #expect(uploaded.map(\.type) == ["in", "in", "in", "out"])
                        #expect(uploaded.map(\.code) == ["100", "101", "198", "101"])
                        #expect(uploaded.map(\.userId) == [18, 19, nil, 19], "198 has no manager: uploaded without a user")
                        #expect(uploaded.allSatisfy { $0.phone == "375296254070" })
                        #expect(uploaded.first?.duration == 3)
                        #expect(try await AMIClientTests.eventually { await crm.callEvents.filter { $0.type == "hangup" }.count == 4 })
                        let cards = await crm.callEvents
                        #expect(cards.filter { $0.type == "hangup" }.map(\.hangupStatus) == ["answered", "answered", "busy", "answered"])
                        // The queue call's card goes to the agents rung by the time it is sent (100 first).
                        #expect(cards.first { $0.callExternalId == "1795393369.24" && $0.type == "in" }?.codes?.first == "100")
                        let calls = try await stores.calls.list(.init(tenantID: tenantID))
                        #expect(calls.count == 4 && calls.allSatisfy { $0.source == .ami && $0.progress == .completed })
                        let queue = try #require(calls.first { $0.call.externalID == "1795393369.24" })
                        #expect(queue.call.extensions == ["100", "101"] && queue.call.answeredBy == "101")
                        #expect(try await stores.calls.events(tenantID: tenantID, callExternalID: "1795393369.24").count > 50)

                        // Click-to-call from RetailCRM: the manager's phone rings first, then the customer is dialled.
                        let made = try await client.send(.get, "/retailcrm/make-call?clientId=alpha.s3cret-client&userId=19&phone=%2B375296254070")
                        #expect(made.status == .ok, "\(made.text)")
                        let originate = try #require(await pbx.actions.last { $0["Action"] == "Originate" })
                        #expect(originate["Channel"] == "PJSIP/101" && originate["Exten"] == "+375296254070" && originate["Context"] == "from-internal")
                        let byCode = try await client.send(.get, "/retailcrm/make-call?clientId=alpha.s3cret-client&code=100&phone=89161234567")
                        #expect(byCode.status == .ok)
                        #expect(await pbx.actions.last { $0["Action"] == "Originate" }?["Exten"] == "+79161234567")
                        let unmapped = try await client.send(.get, "/retailcrm/make-call?clientId=alpha.s3cret-client&userId=999&phone=%2B375296254070")
                        #expect(unmapped.status == .badRequest && unmapped.errorField == "userId" && unmapped.text.contains("No extension configured for user 999"))
                        #expect(try await client.send(.get, "/retailcrm/make-call?clientId=alpha.guess&userId=19&phone=1").status == .unauthorized)
                        #expect(try await client.send(.get, "/retailcrm/make-call?userId=19&phone=1").status == .unauthorized)
                        let badPhone = try await client.send(.get, "/retailcrm/make-call?clientId=alpha.s3cret-client&userId=19&phone=abc")
                        #expect(badPhone.errorField == "phone")
                        let logs = try await stores.logs.list(tenantID: tenantID, filter: .init(integration: "retailcrm"))
                        #expect(logs.filter { $0.eventType == "click_to_call" }.count == 2)

                        // The PBX restarts: the connection comes back by itself.
                        await pbx.dropConnections()
                        let back = try await AMIClientTests.eventually { await pbx.connectedSessions == 1 }
                        var pingResult = "-"
                        if !back, let amiClient = await world.services.pbx.client(for: tenantID) {
                            do { pingResult = "\(try await amiClient.send(AMIMessage([("Action", "Ping")]), timeout: .seconds(1)))" } catch { pingResult = "\(error)" }
                        }
                        let state = await world.services.pbx.state(for: tenantID)
                        let (sessions, logins) = (await pbx.connectedSessions, await pbx.actions.filter { $0["Action"] == "Login" }.count)
                        #expect(back, "state: \(String(describing: state)), sessions: \(sessions), logins: \(logins), ping: \(pingResult)")
                        await group.triggerGracefulShutdown()
                        try await tasks.waitForAll()
                    }
                }
            }
        }
    }

    @Test("smart redirect: a ringing inbound call is moved to the customer's responsible manager, once; a transferred call stays one call")
    func smartRedirect() async throws {
        let pbx = PBXSimulator()
        let crm = RetailCRMEmulator()
        await crm.setModule(RetailCRMTests.module)
        try await PBXSimulator.run(pbx) { pbxPort in
            try await SandboxServer.withRetailCRM(crm) { crmBase in
                try await TestSupport.withApp(.sqlite) { _, world in
                    let tenantID = world.tenantA.tenant.id
                    let stores = world.services.stores
                    _ = try await stores.integrations.save(
                        tenantID: tenantID, kind: .asterisk,
                        change: .init(
                            enabled: true,
                            settings: ["host": "127.0.0.1", "port": .number(Double(pbxPort)), "smart_redirect": true, "redirect_context": "office", "redirect_budget_ms": 5000],
                            secrets: ["username": "switchboard", "secret": "sandbox-ami-secret"]))
                    _ = try await stores.integrations.save(
                        tenantID: tenantID, kind: .retailcrm,
                        change: .init(enabled: true, settings: ["base_url": .string(crmBase)], secrets: ["api_key": "sandbox-retailcrm-key"]))
                    try await stores.managers.replace(
                        tenantID: tenantID, integration: .retailcrm,
                        with: [ManagerExtension(crmUserID: "18", extensionNumber: "100"), ManagerExtension(crmUserID: "19", extensionNumber: "101")])
                    let ami = AMIService(
                        queue: world.services.jobs, secrets: world.services.secrets, connections: world.services.pbx, routes: world.services.routes,
                        refresh: .milliseconds(200), logger: TestSupport.logger)
                    let group = ServiceGroup(services: [ami], logger: TestSupport.logger)
                    try await withThrowingTaskGroup(of: Void.self) { tasks in
                        tasks.addTask { try await group.run() }
                        #expect(try await AMIClientTests.eventually { await world.services.pbx.state(for: tenantID) == .connected })
                        // A customer of manager 19 (extension 101) rings extension 100.
                        // Still ringing (the dial has begun, nothing more yet) while the lookup runs.
                        let ringing = PBXScenarios.inbound(id: 1_795_100_000, caller: "+375296254070", extension: "100", answered: false, talk: 1)
                        await pbx.broadcast(Array(ringing.prefix(5)))
                        #expect(try await AMIClientTests.eventually { await pbx.actions.contains { $0["Action"] == "Redirect" } })
                        await pbx.broadcast(Array(ringing.dropFirst(5)))
                        let redirect = try #require(await pbx.actions.first { $0["Action"] == "Redirect" })
                        #expect(redirect["Channel"] == "Local/100@from-pstn-demo;1" && redirect["Exten"] == "101" && redirect["Context"] == "office")
                        // A stranger, and a customer already ringing at the manager: no redirect.
                        await pbx.broadcast(PBXScenarios.inbound(id: 1_795_100_100, caller: "+79990001122", extension: "100", answered: false, talk: 1))
                        await pbx.broadcast(PBXScenarios.inbound(id: 1_795_100_200, caller: "+375296254070", extension: "101", answered: true, talk: 1))
                        // A transferred call: one call row with both agents.
                        await pbx.broadcast(PBXScenarios.transfer(id: 1_795_100_300, caller: "+79161234567", from: "100", to: "101", attended: false))
                        #expect(try await AMIClientTests.eventually {
                            let calls = (try? await stores.calls.list(.init(tenantID: tenantID))) ?? []
                            return calls.count == 4 && calls.allSatisfy { $0.progress == .completed }
                        })
                        #expect(await pbx.actions.filter { $0["Action"] == "Redirect" }.count == 1)
                        let transferred = try await stores.calls.find(tenantID: tenantID, externalID: "1795100300.0")
                        #expect(transferred?.call.extensions == ["100", "101"] && transferred?.call.answeredBy == "100")
                        let logged = try await stores.logs.list(tenantID: tenantID, filter: .init(eventType: "smart_redirect"))
                        #expect(logged.count == 1 && logged.first?.status == .success)
                        await group.triggerGracefulShutdown()
                        try await tasks.waitForAll()
                    }
                }
            }
        }
    }

    @Test("two instances on one PostgreSQL: one holds the PBX connection, the other takes over when it stops",
          .enabled(if: TestBackend.all.contains(.postgres)))
    func singleHolder() async throws {
        let pbx = PBXSimulator()
        try await PBXSimulator.run(pbx) { pbxPort in
            try await TestSupport.withApp(.postgres) { _, world in
                let tenantID = world.tenantA.tenant.id
                _ = try await world.services.stores.integrations.save(
                    tenantID: tenantID, kind: .asterisk,
                    change: .init(enabled: true, settings: ["host": "127.0.0.1", "port": .number(Double(pbxPort)), "call_events": "http"],
                                  secrets: ["username": "switchboard", "secret": "sandbox-ami-secret"]))
                let (first, second) = (PBXConnections(), PBXConnections())
                func instance(_ connections: PBXConnections) -> ServiceGroup {
                    let ami = AMIService(
                        queue: world.services.jobs, secrets: world.services.secrets, connections: connections, refresh: .milliseconds(200),
                        logger: TestSupport.logger)
                    return ServiceGroup(services: [ami], logger: TestSupport.logger)
                }
                let (groupA, groupB) = (instance(first), instance(second))
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await groupA.run() }
                    #expect(try await AMIClientTests.eventually { await first.state(for: tenantID) == .connected })
                    tasks.addTask { try await groupB.run() }
                    try await Task.sleep(for: .seconds(1))  // five looks by the second instance
                    #expect(await second.client(for: tenantID) == nil, "the second instance leaves the PBX to the first")
                    #expect(await pbx.connectedSessions == 1)
                    // The first instance stops (a deploy, a crash): its lock goes with its session.
                    await groupA.triggerGracefulShutdown()
                    #expect(try await AMIClientTests.eventually { await second.state(for: tenantID) == .connected })
                    #expect(await first.client(for: tenantID) == nil)
                    #expect(try await AMIClientTests.eventually { await pbx.connectedSessions == 1 })
                    await groupB.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            }
        }
    }
}
