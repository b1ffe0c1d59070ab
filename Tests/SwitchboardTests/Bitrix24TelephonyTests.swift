import Bitrix24
import Foundation
import HTTPTypes
import HummingbirdTesting
import Jobs
import Mirror
import SQLKit
import NIOCore
import Sandbox
import Server
import Storage
import SwitchboardCore
import Telephony
import Testing

/// PBX calls into Bitrix24 telephony: register → finish → attachRecord against the emulated portal.
@Suite("Bitrix24 telephony")
struct Bitrix24TelephonyTests {
    static func connect(_ world: TestWorld, base: String, emulator: Bitrix24Emulator, asApp: Bool = true) async throws {
        let (access, refresh) = await emulator.issueTokens()
        var settings: [String: JSONValue] = ["portal_url": .string(base), "telephony": true]
        var secrets: [String: String?] = [:]
        if asApp {
            settings["client_endpoint"] = .string("\(base)/rest/")
            settings["token_expires_at"] = .number(Date().timeIntervalSince1970 + 3600)
            settings["client_id"] = .string(emulator.clientID)
            settings["oauth_url"] = .string("\(base)/oauth/token/")
            secrets = ["access_token": access, "refresh_token": refresh, "client_secret": emulator.clientSecret, "application_token": emulator.applicationToken]
        } else {
            secrets = ["webhook_url": "\(base)/rest/1/\(emulator.webhookCode)/"]
        }
        _ = try await world.services.stores.integrations.save(
            tenantID: world.tenantA.tenant.id, kind: .bitrix24, change: .init(enabled: true, settings: settings, secrets: secrets))
        await world.services.configChanged()
    }

    static func event(_ token: String, _ id: String, _ extra: String) -> String { TelephonyIntakeTests.event(token, id, extra) }

    static func jobs(_ world: TestWorld, _ state: JobState) async throws -> [Job] {
        try await world.services.jobs.list(.init(tenantID: world.tenantA.tenant.id, kind: CallIntake.jobKind, limit: 100)).filter { $0.state == state }
    }

    @Test("answered, missed, busy and overlapping calls: one CALL_ID each, the manager's user, status codes, the recording; an unknown extension fails for good", arguments: TestBackend.all)
    func calls(backend: TestBackend) async throws {
        let emulator = Bitrix24Emulator(contacts: 30, seed: 8)
        try await SandboxServer.withBitrix24(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                try await Self.connect(world, base: base, emulator: emulator)
                try await world.services.stores.managers.replace(
                    tenantID: world.tenantA.tenant.id, integration: .bitrix24, with: [ManagerExtension(crmUserID: "2", extensionNumber: "102")])
                let token = world.tenantA.pbxToken
                let inbound = #""CallerIDNum":"89161234567","CallType":0,"Trunk":"+74951234567","Extensions":["102"]"#
                let dial = try await client.send(.post, "/telephony/events/dial", json: Self.event(token, "c1", inbound))
                #expect(dial.object["queued"] as? [String] == ["bitrix24:dial"])
                // A second call between the same numbers while the first is still on.
                _ = try await client.send(.post, "/telephony/events/dial", json: Self.event(token, "c2", inbound))
                _ = try await client.send(
                    .post, "/hangup", json: Self.event(token, "c1", inbound + #","CallStatus":"ANSWER","BillSec":40,"RecordUrl":"https://pbx.example.com/r/c1.mp3""#))
                _ = try await client.send(.post, "/hangup", json: Self.event(token, "c2", inbound + #","CallStatus":"NOANSWER""#))
                // Outbound, seen only at hangup (busy; the seed's synthetic dial shows the card), from an extension
                // without a mapping: its inner number finds the user.
                _ = try await client.send(
                    .post, "/hangup", json: Self.event(token, "c3", #""CallerIDNum":"101","ConnectedLineNum":"84951112233","CallType":1,"Extensions":["101"],"CallStatus":"BUSY""#))
                // An extension Bitrix24 does not know.
                _ = try await client.send(.post, "/dial", json: Self.event(token, "c4", #""CallerIDNum":"89160000001","CallType":0,"Extensions":["199"]"#))
                try await TestSupport.runWorkers(world) {
                    let (succeeded, dead) = (try await Self.jobs(world, .succeeded).count, try await Self.jobs(world, .dead).count)
                    return succeeded == 9 && dead == 1
                }
                let calls = await emulator.externalCalls
                #expect(calls.count == 3)
                #expect(Set(calls.map(\.callID)).count == 3)
                #expect(Set(calls.compactMap(\.externalCallID)) == ["c1", "c2", "c3"])
                let c1 = try #require(calls.first { $0.externalCallID == "c1" })
                #expect(c1.registerParams["USER_ID"] == "2" && c1.registerParams["TYPE"] == "2" && c1.registerParams["PHONE_NUMBER"] == "+79161234567")
                #expect(c1.registerParams["LINE_NUMBER"] == "+74951234567" && c1.registerParams["SHOW"] == "1")
                #expect(c1.statusCode == "200" && c1.finishParams?["DURATION"] == "40")
                #expect(c1.records.first?.url == "https://pbx.example.com/r/c1.mp3")
                let c2 = try #require(calls.first { $0.externalCallID == "c2" })
                #expect(c2.statusCode == "304" && c2.records.isEmpty)
                let c3 = try #require(calls.first { $0.externalCallID == "c3" })
                #expect(c3.type == 1 && c3.userID == 1 && c3.registerParams["USER_PHONE_INNER"] == "101" && c3.statusCode == "486")
                let dead = try #require(try await Self.jobs(world, .dead).first)
                #expect(dead.lastError?.contains("User is not found") == true)

                // Replaying a finished call repeats nothing at the portal.
                let methods = await emulator.methodCalls.count
                let record = try #require(try await world.services.stores.calls.find(tenantID: world.tenantA.tenant.id, externalID: "c1"))
                try await world.services.jobs.prune(finishedBefore: Date().addingTimeInterval(60))
                try await CallIntake.enqueue(.upload, target: .bitrix24, record: record, on: world.services.database)
                try await TestSupport.runWorkers(world) { try await Self.jobs(world, .succeeded).count == 1 }
                #expect(await emulator.methodCalls.count == methods)
            }
        }
    }

    @Test("click-to-call: the portal's CALL_ID is finished, not registered again; without a PBX the card is closed as failed; webhook mode fails with what to do")
    func clickToCallAndWebhookMode() async throws {
        let emulator = Bitrix24Emulator(contacts: 10, seed: 9)
        try await SandboxServer.withBitrix24(emulator) { base in
            try await TestSupport.withApp(.sqlite) { client, world in
                try await Self.connect(world, base: base, emulator: emulator)
                try await world.services.stores.managers.replace(
                    tenantID: world.tenantA.tenant.id, integration: .bitrix24, with: [ManagerExtension(crmUserID: "2", extensionNumber: "102")])
                var headers = HTTPFields()
                headers[.contentType] = "application/x-www-form-urlencoded"
                func clicked(_ callID: String, token: String = emulator.applicationToken) -> String {
                    "event=ONEXTERNALCALLSTART&data%5BPHONE_NUMBER%5D=84951112233&data%5BPHONE_NUMBER_INTERNATIONAL%5D=%2B74951112233"
                        + "&data%5BEXTENSION%5D=102&data%5BUSER_ID%5D=2&data%5BCALL_ID%5D=\(callID)&auth%5Bapplication_token%5D=\(token)"
                }
                // No PBX connected: the click fails and the registered call is closed as 503.
                let first = try #require(await emulator.startClickToCall(userID: 2, phone: "84951112233"))
                let failed = try await client.execute(uri: "/hooks/bitrix24/alpha", method: .post, headers: headers, body: ByteBuffer(string: clicked(first)))
                #expect(failed.status == .ok && failed.object["status"] as? String == "failed")
                try await TestSupport.runWorkers(world) { await emulator.externalCalls.first { $0.callID == first }?.statusCode == "503" }
                let forged = try await client.execute(uri: "/hooks/bitrix24/alpha", method: .post, headers: headers, body: ByteBuffer(string: clicked(first, token: "x")))
                #expect(forged.status == .unauthorized)

                // A click whose PBX call then happens: the call from 102 to that number finishes the portal's CALL_ID.
                // (Another number: the portal's own register dedup would hand back the first, finished call.)
                let second = try #require(await emulator.startClickToCall(userID: 2, phone: "84951112244"))
                try await Bitrix24ClickToCall.remember(
                    callID: second, tenantID: world.tenantA.tenant.id, extension: "102", phone: "+74951112244", on: world.services.database)
                let registered = await emulator.externalCalls.count
                let token = world.tenantA.pbxToken
                let outbound = #""CallerIDNum":"102","ConnectedLineNum":"84951112244","CallType":1,"Extensions":["102"]"#
                _ = try await client.send(.post, "/dial", json: Self.event(token, "k1", outbound))
                _ = try await client.send(.post, "/hangup", json: Self.event(token, "k1", outbound + #","CallStatus":"ANSWER","BillSec":12"#))
                try await TestSupport.runWorkers(world) { try await Self.jobs(world, .succeeded).count == 3 }
                #expect(await emulator.externalCalls.count == registered)
                let call = try #require(await emulator.externalCalls.first { $0.callID == second })
                #expect(call.statusCode == "200" && call.finishParams?["DURATION"] == "12" && call.clickToCall)

                // The close job of each click: a click a call took is left alone; one nobody took is closed as missed.
                let third = try #require(await emulator.startClickToCall(userID: 2, phone: "84951112255"))
                try await Bitrix24ClickToCall.remember(
                    callID: third, tenantID: world.tenantA.tenant.id, extension: "102", phone: "+74951112255", on: world.services.database)
                for (callID, phone) in [(second, "+74951112244"), (third, "+74951112255")] {
                    _ = try await world.services.jobs.enqueue(
                        Bitrix24ClickToCall.closeJob(
                            tenantID: world.tenantA.tenant.id, callID: callID, extension: "102", phone: phone, userID: 2, statusCode: "304", after: 0))
                }
                try await TestSupport.runWorkers(world) { await emulator.externalCalls.first { $0.callID == third }?.statusCode == "304" }
                #expect(await emulator.externalCalls.first { $0.callID == second }?.statusCode == "200")
                #expect(try await Bitrix24ClickToCall.take(tenantID: world.tenantA.tenant.id, extension: "102", phone: "+74951112255", database: world.services.database) == nil)

                // An incoming webhook cannot do telephony on a current portal: the step fails for good, saying why.
                try await Self.connect(world, base: base, emulator: emulator, asApp: false)
                var integration = try #require(try await world.services.stores.integrations.find(tenantID: world.tenantA.tenant.id, kind: .bitrix24))
                integration = try await world.services.stores.integrations.save(
                    tenantID: integration.tenantID, kind: .bitrix24,
                    change: .init(settings: integration.settings.filter { $0.key != "client_endpoint" }, secrets: ["access_token": nil, "refresh_token": nil]))
                _ = try await client.send(.post, "/dial", json: Self.event(token, "w1", #""CallerIDNum":"89161230000","CallType":0,"Extensions":["102"]"#))
                try await TestSupport.runWorkers(world) { try await !Self.jobs(world, .dead).isEmpty }
                #expect(try await Self.jobs(world, .dead).first?.lastError?.contains("installed app") == true)
            }
        }
    }
}

@Suite("Call log in the mirror")
struct CallLogMirrorTests {
    @Test("calls land in switchboard_calls with Bitrix24's binding; the view joins them to the contact by phone and to its deal", arguments: TestBackend.all)
    func callsJoinDeals(backend: TestBackend) async throws {
        let emulator = Bitrix24Emulator(deals: 40, contacts: 40, seed: 12)
        try await SandboxServer.withBitrix24(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let (token, tenantID) = (world.tenantA.apiTokenPlaintext, world.tenantA.tenant.id)
                try await Bitrix24TelephonyTests.connect(world, base: base, emulator: emulator)
                for entity in ["contact", "deal"] {
                    let started = try await client.send(.post, "/api/v1/tenants/alpha/sync/start/\(entity)", token: token, json: #"{"sync_type":"full"}"#)
                    let jobID = try #require(started.object["job_id"] as? String)
                    try await TestSupport.runWorkers(world) { try await world.services.jobs.find(id: jobID)?.state == .succeeded }
                }
                func query(_ text: String) async throws -> [[String: String?]] {
                    try await MirrorDatabase.with(tenantID: tenantID, main: world.services.database, integrations: world.services.stores.integrations) { mirror in
                        var sql = text
                        for table in ["bitrix24_multifields", "bitrix24_deals", "switchboard_calls_crm", "switchboard_calls"] {
                            sql = sql.replacingOccurrences(of: "{\(table)}", with: mirror.table(table))
                        }
                        let statement = sql
                        return try await mirror.database.run { try await $0.raw(SQLQueryString(statement)).all() }.map { row in
                            Dictionary(uniqueKeysWithValues: row.allColumns.map { ($0, try? row.decode(column: $0, as: String?.self)) })
                        }
                    }
                }
                let phoneRow = try #require(try await query(
                    "SELECT phone_e164, CAST(entity_id AS TEXT) AS id FROM {bitrix24_multifields} WHERE entity = 'contact' AND field = 'PHONE' AND phone_e164 LIKE '+7%' ORDER BY entity_id LIMIT 1").first)
                let (phone, contact) = (try #require(phoneRow["phone_e164"] ?? nil), try #require(phoneRow["id"] ?? nil))
                // Deal 3 belongs to that contact (changed in the portal, then re-read).
                await emulator.updateRecord(entity: .deal, id: 3, fields: ["CONTACT_ID": .string(contact)])
                let incremental = try await client.send(.post, "/api/v1/tenants/alpha/sync/start/deal", token: token, json: #"{"sync_type":"incremental"}"#)
                let incrementalID = try #require(incremental.object["job_id"] as? String)
                try await TestSupport.runWorkers(world) { try await world.services.jobs.find(id: incrementalID)?.state == .succeeded }

                let pbx = world.tenantA.pbxToken
                _ = try await client.send(.post, "/hangup", json: TelephonyIntakeTests.event(
                    pbx, "m1", #""CallerIDNum":"\#(phone)","CallType":0,"Extensions":["102"],"CallStatus":"ANSWER","BillSec":30"#))
                _ = try await client.send(.post, "/hangup", json: TelephonyIntakeTests.event(
                    pbx, "m2", #""CallerIDNum":"+79990001122","CallType":0,"Extensions":["102"],"CallStatus":"NOANSWER""#))
                try await TestSupport.runWorkers(world) { try await Bitrix24TelephonyTests.jobs(world, .succeeded).count >= 6 }
                let copier = CallLogMirror(database: world.services.database, integrations: world.services.stores.integrations)
                #expect(try await copier.copy(tenantID: tenantID) == 2)
                #expect(try await copier.copy(tenantID: tenantID) == 0)
                let known = try #require(try await query("SELECT CAST(contact_id AS TEXT) AS contact_id, CAST(deal_id AS TEXT) AS deal_id, outcome, outcome_label, CAST(billsec AS TEXT) AS billsec, bitrix24_call_id, crm_entity_type FROM {switchboard_calls_crm} WHERE external_id = 'm1'").first)
                #expect(known["contact_id"] == .some(contact) && known["deal_id"] == .some("3"))
                #expect(known["outcome"] == .some("answered") && known["outcome_label"] == .some("Отвечен") && known["billsec"] == .some("30"))
                #expect(known["bitrix24_call_id"]??.hasPrefix("externalCall.") == true && known["crm_entity_type"] == .some("CONTACT"))
                let unknown = try #require(try await query("SELECT CAST(contact_id AS TEXT) AS contact_id, CAST(deal_id AS TEXT) AS deal_id, outcome, outcome_label, CAST(billsec AS TEXT) AS billsec, bitrix24_call_id, crm_entity_type FROM {switchboard_calls_crm} WHERE external_id = 'm2'").first)
                #expect(unknown["contact_id"] == .some(nil) && unknown["deal_id"] == .some(nil) && unknown["outcome"] == .some("no_answer"))
                // A later change of a call (a replayed event, a late recording) is copied again, once.
                _ = try await client.send(.post, "/hangup", json: TelephonyIntakeTests.event(
                    pbx, "m3", #""CallerIDNum":"\#(phone)","CallType":0,"Extensions":["102"],"CallStatus":"BUSY""#))
                #expect(try await copier.copy(tenantID: tenantID) == 1)
                #expect(try await query("SELECT CAST(COUNT(*) AS TEXT) AS n FROM {switchboard_calls}").first?["n"] == .some("3"))
                // m3 was copied before Bitrix24 registered it: the register marks the call changed, so the next
                // copy brings its CALL_ID and binding.
                #expect(try await query("SELECT bitrix24_call_id FROM {switchboard_calls} WHERE external_id = 'm3'").first?["bitrix24_call_id"] == .some(nil))
                try await TestSupport.runWorkers(world) { try await Bitrix24TelephonyTests.jobs(world, .succeeded).count >= 9 }
                #expect(try await copier.copy(tenantID: tenantID) == 1)
                let late = try #require(try await query("SELECT bitrix24_call_id, crm_entity_type FROM {switchboard_calls} WHERE external_id = 'm3'").first)
                #expect(late["bitrix24_call_id"]??.hasPrefix("externalCall.") == true && late["crm_entity_type"] == .some("CONTACT"))
            }
        }
    }
}
