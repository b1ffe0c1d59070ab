import Analytics
import Foundation
import HummingbirdTesting
import Mirror
import Sandbox
import Server
import Storage
import SwitchboardCore
import Testing

/// The data dictionary of a mirror, over HTTP and in both dialects: every table and column with types,
/// CRM fields, labels, keys and joins, sizes, null ratios, and examples with personal data masked.
@Suite("Data dictionary")
struct DataDictionaryTests {
    @Test("schema.json and schema.md describe an amoCRM mirror: joins, enum values, labels, null ratios, masked examples", arguments: TestBackend.all)
    func amoCRMMirror(backend: TestBackend) async throws {
        let emulator = AmoCRMEmulator(leads: 40, contacts: 12, companies: 3, seed: 9, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                let empty = try await client.send(.get, "/api/v1/tenants/alpha/schema.json", token: token)
                #expect(empty.status == .ok && (empty.object["tables"] as? [Any])?.isEmpty == true, "nothing mirrored yet: \(empty.text)")
                try await AmoCRMMirrorTests.connect(client, token: token, base: base, emulator: emulator, longLived: true)
                for entity in ["lead", "contact", "company", "pipeline", "status", "user"] {
                    try await AmoCRMMirrorTests.sync(client, world, token: token, entity: entity)
                }
                await emulator.userDeleted("leads", id: 40)
                try await AmoCRMMirrorTests.sync(client, world, token: token, entity: "lead", mode: "incremental")

                let answer = try await client.send(.get, "/api/v1/tenants/alpha/schema.json", token: token)
                #expect(answer.status == .ok)
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .iso8601
                let dictionary = try decoder.decode(DataDictionary.self, from: Data(answer.text.utf8))
                #expect(dictionary.dialect == backend.rawValue)
                #expect(Set(dictionary.tables.map(\.name)).isSuperset(of: ["amocrm_leads", "amocrm_contacts", "amocrm_statuses", "amocrm_users", "amocrm_multifields"]))
                let leads = try #require(dictionary.tables.first { $0.name == "amocrm_leads" })
                #expect(leads.rows == 39 && leads.deletedRows == 1 && leads.labelEN == "amoCRM deals (leads)")
                func column(_ table: DataDictionary.Table, _ name: String) throws -> DataDictionary.Column {
                    try #require(table.columns.first { $0.name == name }, "\(table.name).\(name)")
                }
                #expect(try column(leads, "id").key == "primary")
                let status = try column(leads, "status_id")
                #expect(status.key == "foreign" && status.references == "amocrm_statuses.id" && status.labelEN == "Status" && status.labelRU == "Этап")
                #expect(status.enumValues.contains { $0.value == "142" && $0.label == "Успешно реализовано" } && status.nullRatio == 0)
                #expect(try column(leads, "main_contact_id").references == "amocrm_contacts.id")
                #expect(try column(leads, "responsible_user_id").references == "amocrm_users.id")
                #expect(try column(leads, "pipeline_id").references == "amocrm_pipelines.id")
                let price = try column(leads, "cf_123463")
                #expect(price.labelRU == "Стоимость объекта" && price.labelEN == nil && price.sqlType == "NUMERIC" && price.examples.count == 3)
                #expect(try column(leads, "cf_123466_label").role == "label")
                let closed = try column(leads, "closed_at")
                #expect(closed.nullRatio > 0 && closed.nullRatio < 1, "some leads are closed, most are not: \(closed.nullRatio)")
                #expect(try column(leads, "loss_reason_id").nullRatio == 1)

                let contacts = try #require(dictionary.tables.first { $0.name == "amocrm_contacts" })
                #expect(contacts.joins.contains { $0.to == "amocrm_multifields.entity_id" && $0.condition == "amocrm_multifields.entity = 'contact'" })
                let names = try column(contacts, "name").examples
                #expect(!names.isEmpty && names.allSatisfy { $0.count <= 6 && $0.hasSuffix(".") }, "people's names are shown as initials: \(names)")
                #expect(!answer.text.contains("+7916"), "no phone number in full anywhere")

                let markdown = try await client.send(.get, "/api/v1/tenants/alpha/schema.md", token: token)
                #expect(markdown.status == .ok && markdown.headers[.contentType]?.hasPrefix("text/markdown") == true)
                #expect(markdown.text.contains("## amocrm_leads") && markdown.text.contains("FK → `amocrm_statuses.id`"))
                #expect(markdown.text.contains("`amocrm_leads.status_id` = `amocrm_statuses.id`"))
                #expect(markdown.text.contains("`142` Успешно реализовано"))
                let other = try await client.send(.get, "/api/v1/tenants/bravo/schema.md", token: token)
                #expect(other.status == .notFound, "another tenant's dictionary is not reachable")
            }
        }
    }
}
