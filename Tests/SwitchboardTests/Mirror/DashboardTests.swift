import Foundation
import HummingbirdTesting
import Sandbox
import Server
import SwitchboardCore
import Testing

/// Dashboards through the real router: charts placed on the grid by question or id, layouts validated
/// (inside 12 columns, no overlaps, only the tenant's own charts), refreshed on demand and by the
/// scheduled job, shared through a signed link that shows escaped, read-only SVG, expires with its
/// revocation, and never opens another tenant's dashboard.
@Suite("Dashboards")
struct DashboardTests {
    @Test("grid, refresh, schedule, share link and isolation", arguments: TestBackend.all)
    func dashboards(backend: TestBackend) async throws {
        let emulator = AmoCRMEmulator(leads: 40, contacts: 5, seed: 5, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                try await AmoCRMMirrorTests.connect(client, token: token, base: base, emulator: emulator, longLived: true)
                for entity in ["lead", "status", "pipeline", "user"] { try await AmoCRMMirrorTests.sync(client, world, token: token, entity: entity) }
                let root = "/api/v1/tenants/alpha/dashboards"

                let bad = try await client.send(.post, root, token: token, json: #"{"name":"  ","refresh_minutes":60}"#)
                #expect(bad.status == .badRequest && bad.errorField == "name")
                let tooOften = try await client.send(.post, root, token: token, json: #"{"name":"Продажи","refresh_minutes":1}"#)
                #expect(tooOften.errorField == "refresh_minutes")
                let created = try await client.send(.post, root, token: token, json: #"{"name":"Продажи <script>alert(1)</script>","refresh_minutes":60}"#)
                #expect(created.status == .created, "\(created.text)")
                let id = try #require(created.object["id"] as? String)

                // Charts by question, placed side by side then below.
                let first = try await client.send(.post, "\(root)/\(id)/charts", token: token, json: #"{"question":"Сколько сделок по стадиям?"}"#)
                #expect(first.status == .created, "\(first.text)")
                let second = try await client.send(.post, "\(root)/\(id)/charts", token: token, json: #"{"question":"сумма сделок по менеджерам","w":6,"h":4}"#)
                let third = try await client.send(.post, "\(root)/\(id)/charts", token: token, json: #"{"question":"leads by month","w":12,"h":3}"#)
                let layout = try #require(third.object["layout"] as? [[String: Any]])
                #expect(layout.map { [$0["x"] as? Int ?? -1, $0["y"] as? Int ?? -1] } == [[0, 0], [6, 0], [0, 4]], "\(third.text)")
                #expect((third.object["charts"] as? [[String: Any]])?.count == 3 && second.status == .created)
                let noChart = try await client.send(.post, "\(root)/\(id)/charts", token: token, json: #"{"w":6}"#)
                #expect(noChart.errorField == "chart_id")

                // Layout rules, each naming the tile.
                let ids = layout.compactMap { $0["chart_id"] as? String }
                func patch(_ tiles: String) async throws -> TestResponse { try await client.send(.patch, "\(root)/\(id)", token: token, json: #"{"layout":\#(tiles)}"#) }
                let overlap = try await patch(#"[{"chart_id":"\#(ids[0])","x":0,"y":0,"w":6,"h":4},{"chart_id":"\#(ids[1])","x":3,"y":2,"w":6,"h":4}]"#)
                #expect(overlap.status == .badRequest && overlap.errorField == "layout[1]" && overlap.text.contains("overlaps"))
                let outside = try await patch(#"[{"chart_id":"\#(ids[0])","x":8,"y":0,"w":6,"h":4}]"#)
                #expect(outside.errorField == "layout[0]")
                let otherTenant = try await client.send(.post, "/api/v1/tenants/bravo/dashboards", token: world.tenantB.apiTokenPlaintext, json: #"{"name":"B"}"#)
                #expect(otherTenant.status == .created)
                let stolen = try await client.send(
                    .post, "/api/v1/tenants/bravo/dashboards/\(otherTenant.object["id"] as? String ?? "")/charts", token: world.tenantB.apiTokenPlaintext,
                    json: #"{"chart_id":"\#(ids[0])"}"#)
                #expect(stolen.status == .badRequest && stolen.errorField == "layout[0]", "another tenant's chart cannot be placed")
                #expect(try await client.send(.get, "/api/v1/tenants/bravo/dashboards/\(id)", token: world.tenantB.apiTokenPlaintext).status == .notFound)
                let moved = try await patch(#"[{"chart_id":"\#(ids[2])","x":0,"y":0,"w":12,"h":3},{"chart_id":"\#(ids[0])","x":0,"y":3,"w":4,"h":4}]"#)
                #expect(moved.status == .ok && (moved.object["charts"] as? [[String: Any]])?.count == 2, "\(moved.text)")

                // Refresh on demand picks up new data; the scheduled job does the same.
                let leadIDs = try await AmoCRMMirrorTests.rows(world, "amocrm_leads").keys.sorted()
                for lead in leadIDs.prefix(3) { await emulator.userDeleted("leads", id: lead) }
                try await AmoCRMMirrorTests.sync(client, world, token: token, entity: "lead", mode: "incremental")
                let refreshed = try await client.send(.post, "\(root)/\(id)/refresh", token: token)
                #expect(refreshed.status == .ok && refreshed.object["refreshed_at"] is String, "\(refreshed.text)")
                let stages = try await client.send(.get, "/api/v1/tenants/alpha/charts/\(ids[0]).json", token: token)
                let rows = ((stages.object["data"] as? [String: Any])?["rows"] as? [[Any]]) ?? []
                #expect(rows.compactMap { ($0.last as? NSNumber)?.intValue }.reduce(0, +) == 37 && stages.object["refreshed_at"] is String, "\(stages.text)")
                let schedules = try await StandardJobs.schedules(services: world.services)
                #expect(schedules.contains { $0.name == "dashboard-refresh:\(id)" && $0.tenantID == world.tenantA.tenant.id })
                let job = try await client.send(.post, "/api/v1/jobs", token: world.adminToken, json: #"{"kind":"dashboards.refresh","tenant":"alpha","payload":{"dashboard_id":"\#(id)"}}"#)
                #expect(job.status == .created || job.status == .accepted, "\(job.text)")
                let jobID = try #require((job.object["id"] ?? job.object["job_id"]) as? String)
                try await TestSupport.runWorkers(world) { try await world.services.jobs.find(id: jobID)?.state == .succeeded }

                // Share: a signed link shows the charts read-only, escaped; revoked or forged links are refused.
                let share = try await client.send(.post, "\(root)/\(id)/share", token: token, json: #"{"days":7}"#)
                #expect(share.status == .created, "\(share.text)")
                let path = try #require(share.object["path"] as? String)
                let page = try await client.send(.get, path + "?lang=en")
                #expect(page.status == .ok && page.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(page.text.components(separatedBy: "<svg").count == 3 && page.text.contains("&lt;script&gt;") && !page.text.contains("<script>alert"))
                #expect(page.text.contains("read-only") && !page.text.contains(token))
                let json = try await client.send(.get, path + "?format=json")
                #expect((json.object["charts"] as? [Any])?.count == 2)
                #expect(try await client.send(.get, "/share/dashboards/\(path.split(separator: "/").last ?? "")x").status == .notFound)
                #expect(try await client.send(.post, "\(root)/\(id)/share", token: token, json: #"{"days":400}"#).errorField == "days")
                #expect(try await client.send(.delete, "\(root)/\(id)/share", token: token).status == .noContent)
                let revoked = try await client.send(.get, path)
                #expect(revoked.status == .notFound && revoked.errorCode == "link_invalid")

                let list = try await client.send(.get, root, token: token)
                #expect((list.object["dashboards"] as? [[String: Any]])?.count == 1)
                #expect(try await client.send(.delete, "\(root)/\(id)", token: token).status == .noContent)
                #expect(try await client.send(.get, "\(root)/\(id)", token: token).status == .notFound)
            }
        }
    }
}
