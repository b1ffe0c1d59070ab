import AmoCRM
import Foundation
import SwitchboardCore
import Testing

/// amoCRM webhook bodies in the shape amoCRM really sends (form-encoded, PHP brackets, v2 vocabulary —
/// synthesized after `shared/crm-fixtures/amocrm/README.md`, no capture being licensed to copy) and seed
/// 004's JSON shape.
@Suite("amoCRM webhooks")
struct AmoCRMWebhookTests {
    /// A `leads[status]` delivery as amoCRM posts it: tags, a select field (value + enum), a date field
    /// (`values[0]` with no `[value]` key), the v2 names `last_modified`, `old_status_id`.
    static let statusBody = [
        "leads[status][0][id]=25399013", "leads[status][0][name]=%D0%97%D0%B0%D1%8F%D0%B2%D0%BA%D0%B0+%D1%81+%D1%81%D0%B0%D0%B9%D1%82%D0%B0",
        "leads[status][0][status_id]=142", "leads[status][0][old_status_id]=40166521", "leads[status][0][price]=15000",
        "leads[status][0][responsible_user_id]=6158035", "leads[status][0][last_modified]=1615845632",
        "leads[status][0][modified_user_id]=6158035", "leads[status][0][created_user_id]=6158035", "leads[status][0][date_create]=1615845600",
        "leads[status][0][pipeline_id]=4122859", "leads[status][0][tags][0][id]=31337", "leads[status][0][tags][0][name]=%D1%81%D0%B0%D0%B9%D1%82",
        "leads[status][0][account_id]=29175955", "leads[status][0][custom_fields][0][id]=123458",
        "leads[status][0][custom_fields][0][name]=utm_source", "leads[status][0][custom_fields][0][values][0][value]=google",
        "leads[status][0][custom_fields][1][id]=561231", "leads[status][0][custom_fields][1][name]=%D0%98%D1%81%D1%82%D0%BE%D1%87%D0%BD%D0%B8%D0%BA",
        "leads[status][0][custom_fields][1][values][0][value]=%D0%A1%D0%B0%D0%B9%D1%82", "leads[status][0][custom_fields][1][values][0][enum]=1140567",
        "leads[status][0][custom_fields][2][id]=561233", "leads[status][0][custom_fields][2][name]=%D0%94%D0%B0%D1%82%D0%B0",
        "leads[status][0][custom_fields][2][values][0]=1615845600", "leads[status][0][created_at]=1615845600", "leads[status][0][updated_at]=1615845632",
        "account[subdomain]=switchboardtest", "account[id]=29175955", "account[_links][self]=https%3A%2F%2Fswitchboardtest.amocrm.ru",
    ].joined(separator: "&")

    @Test("a leads[status] delivery: ids, statuses, pipeline, the change time, custom fields with enums and bare date values, the account")
    func statusChange() throws {
        let hook = try AmoCRMWebhook.parse(form: Self.statusBody)
        #expect(hook.accountID == "29175955" && hook.subdomain == "switchboardtest" && hook.ignored.isEmpty)
        let event = try #require(hook.events.first)
        #expect(hook.events.count == 1)
        #expect(event.entity == "leads" && event.action == "status" && event.id == 25_399_013)
        #expect(event.statusID == 142 && event.oldStatusID == 40_166_521 && event.pipelineID == 4_122_859)
        #expect(event.modifiedAt == 1_615_845_632, "updated_at first, else last_modified")
        #expect(event.record["name"]?.stringValue == "Заявка с сайта")
        #expect(event.customFields == [
            AmoCRMFieldValue(fieldID: 123_458, name: "utm_source", items: [AmoCRMFieldItem(value: "google")]),
            AmoCRMFieldValue(fieldID: 561_231, name: "Источник", items: [AmoCRMFieldItem(value: "Сайт", enumID: 1_140_567)]),
            AmoCRMFieldValue(fieldID: 561_233, name: "Дата", items: [AmoCRMFieldItem(value: "1615845600")]),
        ])
    }

    @Test("several entities and actions in one delivery; a contact's phone is a multitext field; unknown entities are set aside, not refused")
    func mixedDelivery() throws {
        let body = [
            "leads[add][0][id]=101", "leads[add][0][name]=A", "leads[add][0][status_id]=40166521", "leads[add][0][pipeline_id]=4122859",
            "leads[add][1][id]=102", "leads[add][1][name]=B", "leads[delete][0][id]=99", "leads[delete][0][status_id]=143",
            "contacts[update][0][id]=501", "contacts[update][0][name]=%D0%98%D0%B2%D0%B0%D0%BD", "contacts[update][0][type]=contact",
            "contacts[update][0][last_modified]=1700000000", "contacts[update][0][custom_fields][0][id]=123456",
            "contacts[update][0][custom_fields][0][code]=PHONE", "contacts[update][0][custom_fields][0][values][0][value]=%2B79161234567",
            "contacts[update][0][custom_fields][0][values][0][enum]=301", "contacts[update][0][custom_fields][0][values][1][value]=84951234567",
            "contacts[update][0][custom_fields][0][values][1][enum]=303",
            "task[add][0][id]=7", "unsorted[add][0][uid]=x", "account[id]=1", "account[subdomain]=demo",
        ].joined(separator: "&")
        let hook = try AmoCRMWebhook.parse(form: body)
        #expect(hook.events.map { "\($0.entity).\($0.action).\($0.id)" } == ["contacts.update.501", "leads.add.101", "leads.add.102", "leads.delete.99"])
        #expect(hook.ignored == ["task", "unsorted"])
        let contact = try #require(hook.events.first)
        #expect(contact.modifiedAt == 1_700_000_000)
        #expect(contact.customFields.first?.code == "PHONE")
        #expect(contact.customFields.first?.items == [AmoCRMFieldItem(value: "+79161234567", enumID: 301), AmoCRMFieldItem(value: "84951234567", enumID: 303)])
    }

    @Test("seed 004's JSON body (v4 names) reads into the same events; its X-Signature is an HMAC-SHA256 of the raw body")
    func seedJSON() throws {
        let body = #"{"leads":{"add":[{"id":12345,"name":"Новый лид","status_id":1,"created_at":1640995200,"custom_fields_values":[{"field_id":123458,"values":[{"value":"google"}]}]}],"update":[],"delete":[]},"contacts":{"add":[],"update":[]}}"#
        let hook = try AmoCRMWebhook.parse(json: body)
        let event = try #require(hook.events.first)
        #expect(hook.events.count == 1 && event.entity == "leads" && event.action == "add" && event.id == 12345 && event.statusID == 1)
        #expect(event.customFields == [AmoCRMFieldValue(fieldID: 123_458, items: [AmoCRMFieldItem(value: "google")])])
        // Reference: python3 -c 'import hmac,hashlib; print(hmac.new(b"seed-secret", b"{}", hashlib.sha256).hexdigest())'
        let mac = "1a1113adc02b9c7c3cbd3042eff781f57080125b0d6c49cc98b089e9e0513792"
        let otherSecret = "4b4a24f3674824fb18c493564e2083aa87631eb9ebb0c9eff0b4289f2f01939f"  // the same with b"another-secret"
        #expect(!AmoCRMWebhook.seedSignatureValid(body: "{}", header: otherSecret, secret: "seed-secret"))
        #expect(AmoCRMWebhook.seedSignatureValid(body: "{}", header: mac, secret: "seed-secret"))
        #expect(AmoCRMWebhook.seedSignatureValid(body: "{}", header: "sha256=" + mac.uppercased(), secret: "seed-secret"))
        #expect(!AmoCRMWebhook.seedSignatureValid(body: "{ }", header: mac, secret: "seed-secret"))
        #expect(!AmoCRMWebhook.seedSignatureValid(body: "{}", header: nil, secret: "seed-secret"))
        #expect(!AmoCRMWebhook.seedSignatureValid(body: "{}", header: mac, secret: ""))
    }

    @Test("malformed deliveries are refused naming the field")
    func malformed() {
        for (body, field) in [
            ("leads[add][0][name]=no+id", "leads[add][0][id]"),
            ("leads[add][0][id]=abc", "leads[add][0][id]"),
            ("leads[add][0][id]=-4", "leads[add][0][id]"),
            ("leads[merge][0][id]=1", "leads[merge]"),
            ("leads=1", "leads"),
            ("leads[add][0]=1", "leads[add][0]"),
            ("leads[add][0][id]=1&leads[add][0][custom_fields][0][name]=x", "leads[add][0][custom_fields][0][id]"),
            ("leads[add][0][id]=%ZZ", "body"),
        ] {
            #expect(throws: SwitchboardError.self, "\(body)") { try AmoCRMWebhook.parse(form: body) }
            do { _ = try AmoCRMWebhook.parse(form: body) } catch { #expect(error.field == field, "\(body) → \(error.message)") }
        }
        #expect(throws: SwitchboardError.self) { try AmoCRMWebhook.parse(json: "[1,2]") }
    }

    @Test("property: any mangling of a real delivery parses or is refused as a 400 — never a crash")
    func fuzz() async {
        var random = SplitMix64(seed: 0xA30C)
        let pieces = Array(Self.statusBody.utf8)
        let noise = Array("[]%&=+0123456789abcdefXZ\u{0}".utf8)
        for round in 0..<3000 {
            if round % 100 == 0 { await Task.yield() }  // a long CPU loop must not hold a cooperative thread for the whole run
            var bytes = pieces
            for _ in 0..<(1 + Int(random.next() % 8)) {
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(noise[Int(random.next() % UInt64(noise.count))], at: at)
                default: bytes[at] = noise[Int(random.next() % UInt64(noise.count))]
                }
                if bytes.isEmpty { bytes = [UInt8(ascii: "x")] }
            }
            let body = String(decoding: bytes, as: UTF8.self)
            do {
                let hook = try AmoCRMWebhook.parse(form: body)
                #expect(hook.events.allSatisfy { $0.id > 0 })
            } catch {
                #expect(!(error.field ?? "").isEmpty)
            }
        }
    }
}
