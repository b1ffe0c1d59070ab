import Foundation
import HummingbirdTesting
import Jobs
import RetailCRM
import Sandbox
import Server
import Storage
import SwitchboardCore
import Telephony
import Testing

@Suite("Responsible-manager routing and missed-call tasks")
struct RoutingTests {
    @Test("the dialplan asks for the caller's responsible manager and gets an extension, from RetailCRM then from the cache")
    func routeEndpoint() async throws {
        let emulator = RetailCRMEmulator()
        try await SandboxServer.withRetailCRM(emulator) { base in
            try await TestSupport.withApp(.sqlite) { client, world in
                try await TelephonyIntakeTests.enableRetailCRM(world, baseURL: base)
                try await world.services.stores.managers.replace(
                    tenantID: world.tenantA.tenant.id, integration: .retailcrm, with: [ManagerExtension(crmUserID: "19", extensionNumber: "101")])
                let token = world.tenantA.pbxToken
                // +375296254070 is a customer of manager 19 in the emulated account.
                let first = try await client.send(.get, "/telephony/route?Token=\(token)&phone=%2B375296254070")
                #expect(first.status == .ok, "\(first.text)")
                #expect(first.object["extension"] as? String == "101" && first.object["manager_id"] as? Int == 19)
                #expect(first.object["source"] as? String == "crm" && first.object["manager_name"] as? String == "Борис Иванов")
                let lookups = await emulator.requests.filter { $0.contains("telephony/manager") }.count
                let second = try await client.send(.post, "/telephony/route", json: #"{"Token":"\#(token)","phone":"375296254070","format":"text"}"#)
                #expect(second.text == "101" && second.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(await emulator.requests.filter { $0.contains("telephony/manager") }.count == lookups, "answered from the cache")

                let stranger = try await client.send(.get, "/telephony/route?Token=\(token)&phone=89990001122")
                #expect(stranger.object["extension"] == nil && stranger.object["reason"] as? String == "no_customer")
                #expect(try await client.send(.get, "/telephony/route?Token=\(token)&phone=89990001122&format=text").text == "")
                #expect(try await client.send(.get, "/telephony/route?Token=nope&phone=1").status == .unauthorized)
                #expect(try await client.send(.get, "/telephony/route?Token=\(token)").errorField == "phone")
                #expect(try await client.send(.get, "/telephony/route?Token=\(token)&phone=abc").errorField == "phone")
                #expect(try await client.send(.get, "/telephony/route?Token=\(token)&phone=%2B79161234567&budget_ms=x").errorField == "budget_ms")
                // A tenant without RetailCRM gets "no route", not an error.
                let other = try await client.send(.get, "/telephony/route?Token=\(world.tenantB.pbxToken)&phone=%2B375296254070")
                #expect(other.status == .ok && other.object["reason"] as? String == "no_crm")
            }
        }
    }

    @Test("a slow CRM never holds the caller past the budget; its late answer serves the next call")
    func timeBudget() async throws {
        try await TestSupport.withApp(.sqlite) { _, world in
            let integration = Integration(
                id: "i", tenantID: world.tenantA.tenant.id, kind: .retailcrm, enabled: true, settings: [:], secrets: [:], createdAt: Date(),
                updatedAt: Date())
            let answer = try JSONDecoder().decode(
                RetailCRMResponsibleManager.self, from: Data(#"{"manager":{"id":7,"firstName":"Ева","code":"555"},"customer":{"id":1}}"#.utf8))
            let router = ResponsibleManagerRouter(stores: world.services.stores) { _, _ in
                try await Task.sleep(for: .seconds(6))
                return answer
            }
            let started = ContinuousClock.now
            let late = await router.route(integration, phone: "+79161234567", budget: .milliseconds(100))
            #expect(late.extensionNumber == nil && late.reason == "timeout")
            // Generous against a starved 2-core CI pool, still well short of the 6 s CRM.
            #expect(ContinuousClock.now - started < .seconds(4), "the caller does not wait for the 6 s CRM")
            #expect(try await AMIClientTests.eventually {
                await router.route(integration, phone: "+79161234567", budget: .milliseconds(50)).source == "cache"
            })
            let cached = await router.route(integration, phone: "+79161234567", budget: .milliseconds(50))
            #expect(cached.extensionNumber == "555" && cached.managerID == 7, "RetailCRM's own code for the manager wins")
            await router.invalidate(tenantID: world.tenantA.tenant.id)
            #expect(await router.route(integration, phone: "+79161234567", budget: .milliseconds(10)).reason == "timeout")

            // A manager code that is not an extension never reaches the dialplan.
            let hostile = try JSONDecoder().decode(
                RetailCRMResponsibleManager.self, from: Data(#"{"manager":{"id":7,"code":"101&PJSIP/+79990001122@trunk"},"customer":{"id":1}}"#.utf8))
            let guarded = ResponsibleManagerRouter(stores: world.services.stores) { _, _ in hostile }
            let refused = await guarded.route(integration, phone: "+79161234567", budget: .seconds(2))
            #expect(refused.extensionNumber == nil && refused.reason == "unmapped_manager")

            // A failing CRM answers "no route" and is not cached.
            let failing = ResponsibleManagerRouter(stores: world.services.stores) { _, _ in throw JobFailure.retryable("HTTP 503", retryAfter: nil) }
            let failed = await failing.route(integration, phone: "+79161234567", budget: .seconds(1))
            #expect(failed.extensionNumber == nil && failed.reason == "crm_error: HTTP 503")
            #expect(await failing.route(integration, phone: "+79161234567", budget: .seconds(1)).source == "none")
        }
    }

    @Test("a missed inbound call becomes one RetailCRM task for the responsible or the ringing manager", arguments: TestBackend.all)
    func missedCallTasks(backend: TestBackend) async throws {
        let emulator = RetailCRMEmulator()
        await emulator.setModule(RetailCRMTests.module)
        try await SandboxServer.withRetailCRM(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let tenantID = world.tenantA.tenant.id
                _ = try await world.services.stores.integrations.save(
                    tenantID: tenantID, kind: .retailcrm,
                    change: .init(
                        enabled: true, settings: ["base_url": .string(base), "missed_call_tasks": true], secrets: ["api_key": "sandbox-retailcrm-key"]))
                await world.services.configChanged()
                try await world.services.stores.managers.replace(
                    tenantID: tenantID, integration: .retailcrm, with: [ManagerExtension(crmUserID: "18", extensionNumber: "100")])
                let token = world.tenantA.pbxToken
                let calls = [
                    ("t1", #""CallerIDNum":"89161234567","CallType":0,"Extensions":["100"],"CallStatus":"NOANSWER""#),  // stranger: the ringing manager
                    ("t2", #""CallerIDNum":"+375296254070","CallType":0,"Extensions":["100"],"CallStatus":"BUSY""#),  // customer of manager 19
                    ("t3", #""CallerIDNum":"+375296254070","CallType":0,"Extensions":["100"],"CallStatus":"ANSWER","BillSec":5"#),
                    ("t4", #""CallerIDNum":"100","ConnectedLineNum":"+79161234567","CallType":1,"CallStatus":"NOANSWER""#),  // outbound
                ]
                for (id, fields) in calls {
                    #expect(try await client.send(.post, "/hangup", json: TelephonyIntakeTests.event(token, id, fields)).status == .ok)
                }
                try await TestSupport.runWorkers(world) {
                    try await TelephonyIntakeTests.jobs(world, state: .succeeded).count == 12
                }
                let tasks = await emulator.tasks
                #expect(tasks.map(\.performerId).sorted() == [18, 19])
                #expect(tasks.first { $0.performerId == 18 }?.phone == "+79161234567")
                #expect(tasks.first { $0.performerId == 18 }?.text == "Перезвонить клиенту +79161234567")
                #expect(tasks.first { $0.performerId == 19 }?.commentary?.contains("линия была занята") == true)

                // The upload step again (a retry after a crash, a replay): no second task.
                let record = try #require(try await world.services.stores.calls.find(tenantID: tenantID, externalID: "t1"))
                try await world.services.jobs.prune(finishedBefore: Date().addingTimeInterval(60))
                try await CallIntake.enqueue(.upload, target: .retailcrm, record: record, on: world.services.database)
                try await TestSupport.runWorkers(world) { try await TelephonyIntakeTests.jobs(world, state: .succeeded).count == 1 }
                #expect(await emulator.tasks.count == 2)
            }
        }
    }
}
