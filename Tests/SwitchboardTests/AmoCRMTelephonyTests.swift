import AmoCRM
import Foundation
import HTTPTypes
import HummingbirdTesting
import Jobs
import NIOCore
import Sandbox
import Server
import Storage
import SwitchboardCore
import Telephony
import Testing

/// PBX calls into amoCRM: the popup while ringing, then the call on the caller's contact (made first for
/// an unknown number), every outcome with its `call_status`, a call-back task for missed calls — once.
@Suite("amoCRM telephony")
struct AmoCRMTelephonyTests {
    static func connect(_ world: TestWorld, base: String, emulator: AmoCRMEmulator, settings extra: [String: JSONValue] = [:]) async throws {
        var settings: [String: JSONValue] = ["base_url": .string(base), "telephony": true]
        settings.merge(extra) { _, new in new }
        _ = try await world.services.stores.integrations.save(
            tenantID: world.tenantA.tenant.id, kind: .amocrm,
            change: .init(enabled: true, settings: settings, secrets: ["long_lived_token": emulator.accessToken]))
        await world.services.configChanged()
    }

    static func jobs(_ world: TestWorld, _ state: JobState) async throws -> [Job] {
        try await world.services.jobs.list(.init(tenantID: world.tenantA.tenant.id, kind: CallIntake.jobKind, limit: 100)).filter { $0.state == state }
    }

    @Test("every outcome is posted with its call_status and the manager's user; unknown numbers get a contact; missed calls a task; replays add nothing", arguments: TestBackend.all)
    func calls(backend: TestBackend) async throws {
        let emulator = AmoCRMEmulator(contacts: 3, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                try await Self.connect(world, base: base, emulator: emulator)
                try await world.services.stores.managers.replace(
                    tenantID: world.tenantA.tenant.id, integration: .amocrm, with: [ManagerExtension(crmUserID: "6158036", extensionNumber: "102")])
                let token = world.tenantA.pbxToken
                // A decoy: amoCRM's loose search finds this contact for a2's number, but it does not have that number.
                _ = try await AmoCRMClient(baseURL: base, token: emulator.accessToken).send(.POST, "/api/v4/contacts", body: [["name": "Клиент 9161110002"]])
                // +79160000001 is contact 1's number; the others are unknown to the account.
                let cases: [(id: String, fields: String, status: Int)] = [
                    ("a1", #""CallerIDNum":"89160000001","CallType":0,"Extensions":["102"],"CallStatus":"ANSWER","BillSec":42,"RecordUrl":"https://pbx.example.com/r/a1.mp3""#, 4),
                    ("a2", #""CallerIDNum":"89161110002","CallType":0,"Extensions":["102"],"CallStatus":"NOANSWER""#, 6),
                    ("a3", #""CallerIDNum":"102","ConnectedLineNum":"84951112233","CallType":1,"Extensions":["102"],"CallStatus":"BUSY""#, 7),
                    ("a4", #""CallerIDNum":"89161110004","CallType":0,"Extensions":["101"],"CallStatus":"CHANUNAVAIL""#, 8),
                    ("a5", #""CallerIDNum":"89160000001","CallType":0,"Extensions":["102"],"CallStatus":"CANCEL""#, 6),
                ]
                for item in cases {
                    _ = try await client.send(.post, "/telephony/events/dial", json: TelephonyIntakeTests.event(token, item.id, item.fields))
                    let hangup = try await client.send(.post, "/telephony/events/hangup", json: TelephonyIntakeTests.event(token, item.id, item.fields))
                    #expect(hangup.status == .ok, "\(hangup.text)")
                }
                try await TestSupport.runWorkers(world) {
                    let jobs = try await world.services.jobs.list(.init(tenantID: world.tenantA.tenant.id, kind: CallIntake.jobKind, limit: 100))
                    return !jobs.isEmpty && jobs.allSatisfy { [.succeeded, .dead].contains($0.state) }
                }
                #expect(try await Self.jobs(world, .dead).isEmpty)
                let calls = await emulator.calls
                #expect(calls.count == 5, "\(calls)")
                for item in cases {
                    let call = try #require(calls.first { $0["uniq"]?.stringValue == item.id })
                    #expect(call["call_status"]?.intValue == item.status, "\(item.id)")
                    #expect(call["source"] == "Switchboard")
                }
                let answered = try #require(calls.first { $0["uniq"] == "a1" })
                #expect(answered["entity_id"] == 1 && answered["duration"] == 42 && answered["link"] == "https://pbx.example.com/r/a1.mp3")
                #expect(answered["responsible_user_id"] == 6_158_036 && answered["direction"] == "inbound")
                #expect(calls.first { $0["uniq"] == "a3" }?["direction"] == "outbound")
                #expect(calls.first { $0["uniq"] == "a4" }?["call_responsible"] == "101", "an unmapped extension goes by its number")
                #expect(await emulator.count("contacts") == 7, "three unknown numbers, three new contacts (and the decoy)")
                #expect(calls.first { $0["uniq"] == "a2" }?["entity_id"] != 4, "not attached to the decoy")
                #expect(await emulator.refusedCalls.isEmpty)
                let tasks = await emulator.tasks
                #expect(tasks.count == 2 && tasks.allSatisfy { $0["responsible_user_id"] == 6_158_036 }, "call-back tasks for the missed and the abandoned inbound call: \(tasks)")
                let popups = await emulator.popups
                #expect(popups.count == 4, "popups for inbound calls only: \(popups)")
                #expect(popups.filter { $0["users"] == [6_158_036] }.count == 3 && popups.filter { $0["users"] == nil }.count == 1, "to the mapped user; everyone for an unmapped extension")

                // Replaying every call re-runs the steps: the ledger adds nothing twice.
                let replay = try await client.send(
                    .post, "/api/v1/tenants/alpha/calls/replay", token: world.tenantA.apiTokenPlaintext, json: #"{"from":"2000-01-01T00:00:00Z","to":"2100-01-01T00:00:00Z","integration":"amocrm"}"#)
                #expect(replay.status == .accepted || replay.status == .ok, "\(replay.text)")
                try await TestSupport.runWorkers(world) {
                    let jobs = try await world.services.jobs.list(.init(tenantID: world.tenantA.tenant.id, kind: CallIntake.jobKind, limit: 200))
                    return jobs.allSatisfy { [.succeeded, .dead].contains($0.state) }
                }
                let (callCount, taskCount, contactCount) = (await emulator.calls.count, await emulator.tasks.count, await emulator.count("contacts"))
                #expect(callCount == 5 && taskCount == 2 && contactCount == 7)

                // The managers page lists amoCRM's users beside the mapping.
                let managers = try await client.send(.get, "/api/v1/tenants/alpha/managers?integration=amocrm", token: world.tenantA.apiTokenPlaintext)
                let rows = managers.object["managers"] as? [[String: Any]] ?? []
                #expect(rows.count == 3 && rows.contains { $0["crm_user_id"] as? String == "6158036" && $0["extension"] as? String == "102" && $0["in_crm"] as? Bool == true }, "\(managers.text)")
            }
        }
    }

    @Test("without create_contact_for_unknown a call on an unknown number is skipped with the reason, not lost silently")
    func unknownNumberSkipped() async throws {
        let emulator = AmoCRMEmulator(contacts: 1, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await TestSupport.withApp(.sqlite) { client, world in
                try await Self.connect(world, base: base, emulator: emulator, settings: ["create_contact_for_unknown": false])
                let fields = #""CallerIDNum":"89167770000","CallType":0,"Extensions":["102"],"CallStatus":"ANSWER","BillSec":5"#
                _ = try await client.send(.post, "/telephony/events/hangup", json: TelephonyIntakeTests.event(world.tenantA.pbxToken, "u1", fields))
                try await TestSupport.runWorkers(world) { try await Self.jobs(world, .succeeded).count >= 2 }
                let upload = try #require(try await Self.jobs(world, .succeeded).first { $0.payload.objectValue?["step"] == "upload" })
                #expect(upload.result?.objectValue?["skipped"]?.stringValue?.contains("create_contact_for_unknown") == true, "\(String(describing: upload.result))")
                let (noCalls, contacts) = (await emulator.calls.isEmpty, await emulator.count("contacts"))
                #expect(noCalls && contacts == 1)
            }
        }
    }
}
