import AmoCRM
import Foundation
import HTTPTypes
import Hummingbird
import Sandbox
import SwitchboardCore
import Testing

/// The amoCRM v4 client against the Sandbox emulator, which keeps amoCRM's awkward parts: 204 for an empty
/// page, 429 without JSON, problem+json errors.
@Suite("amoCRM client and emulator")
struct AmoCRMClientTests {
    static func client(_ base: String, token: String = "sandbox-amocrm-token") -> AmoCRMClient {
        AmoCRMClient(baseURL: base, token: token)
    }

    @Test("lists page by _links.next, 250 at a time, until there is no next; an empty result is a 204 and reads as no pages")
    func paging() async throws {
        let emulator = AmoCRMEmulator(leads: 620, contacts: 3, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            let client = Self.client(base)
            var ids: [Int] = []
            var pages = 0
            try await client.pages("/api/v4/leads", embedded: "leads") { records in
                pages += 1
                ids += records.compactMap { $0.objectValue?["id"]?.intValue }
            }
            #expect(pages == 3 && ids == Array(1...620))
            #expect(await emulator.requestCount == 3, "no request after the page without next")

            // Incremental: nothing changed since the future → 204 → no page at all.
            var called = false
            try await client.pages("/api/v4/leads", embedded: "leads", query: [("filter[updated_at][from]", "4102444800")]) { _ in called = true }
            #expect(!called)
            #expect(try await client.get("/api/v4/leads", query: [("page", "99")]) == nil, "a page past the end is a 204")

            // Contacts carry phones as multitext custom fields.
            let contacts = try #require(try await client.get("/api/v4/contacts")?["_embedded"]?.objectValue?["contacts"]?.arrayValue)
            let phone = contacts.first?.objectValue?["custom_fields_values"]?.arrayValue?.first?.objectValue
            #expect(phone?["field_code"] == "PHONE" && phone?["values"]?.arrayValue?.first?.objectValue?["value"] == "+79160000001")

            // Pipelines have amoCRM's system statuses won (142) and lost (143).
            let pipelines = try #require(try await client.get("/api/v4/leads/pipelines")?["_embedded"]?.objectValue?["pipelines"]?.arrayValue)
            let statuses = pipelines.first?.objectValue?["_embedded"]?.objectValue?["statuses"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.intValue } ?? []
            #expect(statuses.contains(142) && statuses.contains(143))
        }
    }

    @Test("errors: a bad token is a 401 that retrying will not fix; a bad limit a 400 naming the field; over 7 requests/s a 429 without JSON that is worth retrying")
    func errors() async throws {
        let emulator = AmoCRMEmulator(leads: 5)
        try await SandboxServer.withAmoCRM(emulator) { base in
            do {
                _ = try await Self.client(base, token: "wrong").get("/api/v4/leads")
                Issue.record("a wrong token was accepted")
            } catch let error as AmoCRMError {
                #expect(error.status == 401 && error.title == "Unauthorized")
                #expect(error.jobFailure == .permanent("HTTP 401: amoCRM Unauthorized: Invalid access token"))
            }
            try await Task.sleep(for: .seconds(1.05))  // a fresh second for the next checks
            do {
                _ = try await Self.client(base).get("/api/v4/leads", query: [("limit", "300")])
                Issue.record("limit 300 was accepted")
            } catch let error as AmoCRMError {
                #expect(error.status == 400 && error.fields.first?.path == "limit" && error.description.contains("between 1 and 250"))
            }
            // A burst of 20 within one second (the account's clock stands still): 7 answered, 13 refused with 429s in HTML.
            let frozen = AmoCRMEmulator(leads: 5, clock: { 1_900_000_000 })
            let outcomes = try await SandboxServer.withAmoCRM(frozen) { frozenBase in
                let client = Self.client(frozenBase)
                return await withTaskGroup(of: Int.self) { group in
                    for _ in 0..<20 {
                        group.addTask {
                            do { _ = try await client.get("/api/v4/leads"); return 200 } catch let error as AmoCRMError { return error.status } catch { return -1 }
                        }
                    }
                    return await group.reduce(into: [Int]()) { $0.append($1) }
                }
            }
            #expect(outcomes.filter { $0 == 200 }.count == 7 && outcomes.filter { $0 == 429 }.count == 13, "\(outcomes)")
            #expect(await frozen.rejectedCount == 13)
            let limited = AmoCRMError(status: 429, title: "Too Many Requests", detail: "", fields: [])
            if case .retryable = limited.jobFailure {} else { Issue.record("a 429 must be retryable") }
        }
    }

    @Test("a next link to another host is not followed: the token stays with the account")
    func foreignNextLink() async throws {
        let router = Router()
        router.get("api/v4/leads") { _, _ -> Response in
            let body = #"{"_page":1,"_links":{"next":{"href":"http://203.0.113.9/api/v4/leads?page=2"}},"_embedded":{"leads":[{"id":1}]}}"#
            return Response(status: .ok, headers: [.contentType: "application/hal+json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        try await SandboxServer.runOnLoopback(router: router, serverName: "amo-redirect", port: 0) { base in
            var seen = 0
            do {
                try await Self.client(base).pages("/api/v4/leads", embedded: "leads") { seen += $0.count }
                Issue.record("a foreign next link was followed")
            } catch let error as AmoCRMError {
                #expect(error.detail.contains("another host") && seen == 1)
            }
        }
    }
}
