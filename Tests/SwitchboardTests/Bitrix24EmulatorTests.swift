import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import Sandbox
import SwitchboardCore
import Synchronization
import Testing

/// A clock the test moves by hand.
final class B24TestClock: Sendable {
    private let value: Mutex<Double>
    init(_ start: Double = 1_760_000_000) { value = Mutex(start) }
    func now() -> Double { value.withLock { $0 } }
    func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
    var function: @Sendable () -> Double { { self.now() } }
}

@Suite("Bitrix24Emulator: the emulated Bitrix24 REST API")
struct Bitrix24EmulatorTests {
    static let code = "wh-secret"

    static func emulator(deals: Int = 0, contacts: Int = 0, leads: Int = 0, companies: Int = 0, seed: UInt64 = 7,
                         clock: B24TestClock = B24TestClock(), burst: Double = 100_000) -> Bitrix24Emulator {
        Bitrix24Emulator(webhookCode: code, deals: deals, contacts: contacts, leads: leads, companies: companies, seed: seed,
                         burst: burst, clock: clock.function)
    }

    /// One call through `handle`: JSON body, via the webhook unless `token` is given.
    @discardableResult
    static func call(_ emulator: Bitrix24Emulator, _ method: String, _ body: JSONValue? = nil, token: String? = nil,
                     form: String? = nil, query: [(String, String)] = []) async -> Bitrix24Emulator.Answer {
        let path = token == nil ? "/rest/1/\(code)/\(method).json" : "/rest/\(method)"
        var query = query
        if let token { query.append(("auth", token)) }
        if let form {
            return await emulator.handle(method: "POST", path: path, query: query,
                                         headers: ["content-type": "application/x-www-form-urlencoded"], body: form)
        }
        return await emulator.handle(method: "POST", path: path, query: query, headers: ["content-type": "application/json"],
                                     body: body.map { String(decoding: try! JSONEncoder().encode($0), as: UTF8.self) } ?? "")
    }

    static func rows(_ answer: Bitrix24Emulator.Answer) -> [[String: JSONValue]] {
        (answer.body.objectValue?["result"]?.b24Items ?? []).compactMap { $0.objectValue }
    }

    static func ids(_ answer: Bitrix24Emulator.Answer) -> [Int] { rows(answer).compactMap { $0["ID"]?.intValue } }

    static func error(_ answer: Bitrix24Emulator.Answer) -> String? { answer.body.objectValue?["error"]?.stringValue }
    static func description(_ answer: Bitrix24Emulator.Answer) -> String? { answer.body.objectValue?["error_description"]?.stringValue }

    // MARK: lists

    @Test("pages of 50 with total and next; start=-1 gives total 0 and no next; values are strings with +03:00 dates")
    func paging() async throws {
        let emulator = Self.emulator(deals: 120)
        let first = await Self.call(emulator, "crm.deal.list", ["order": ["ID": "ASC"]])
        #expect(first.status == 200)
        #expect(Self.ids(first) == Array(1...50))
        #expect(first.body.objectValue?["total"] == 120 && first.body.objectValue?["next"] == 50)
        let last = await Self.call(emulator, "crm.deal.list", ["order": ["ID": "ASC"], "start": 100])
        #expect(Self.ids(last) == Array(101...120))
        #expect(last.body.objectValue?["next"] == nil && last.body.objectValue?["total"] == 120)
        let fast = await Self.call(emulator, "crm.deal.list", ["order": ["ID": "ASC"], "start": -1])
        #expect(Self.ids(fast) == Array(1...50))
        #expect(fast.body.objectValue?["total"] == 0 && fast.body.objectValue?["next"] == nil)
        let time = try #require(first.body.objectValue?["time"]?.objectValue)
        #expect(Set(time.keys) == ["start", "finish", "duration", "processing", "date_start", "date_finish", "operating_reset_at", "operating"])
        let row = try #require(Self.rows(first).first)
        for (key, value) in row {
            switch value {
            case .string, .null: break
            default: Issue.record("\(key) is not a string: \(value)")
            }
        }
        let created = try #require(row["DATE_CREATE"]?.stringValue)
        #expect(created.hasSuffix("+03:00") && created.count == 25)
        #expect(row["CURRENCY_ID"] == "RUB" && row["OPPORTUNITY"]?.stringValue?.split(separator: ".").last?.count == 2)
        #expect(try #require(row["DATE_MODIFY"]?.stringValue) >= created)
    }

    @Test("a >ID keyset walk with start=-1 visits every live deal once; one page over 100k deals is cheap")
    func keysetWalk() async throws {
        let emulator = Self.emulator(deals: 5000)
        for id in [7, 50, 51, 4999] { await emulator.deleteRecord(entity: .deal, id: id) }
        var seen: [Int] = []
        var last = 0
        var pages = 0
        while true {
            let page = await Self.call(emulator, "crm.deal.list", ["order": ["ID": "ASC"], "filter": [">ID": .number(Double(last))],
                                                                  "select": ["ID", "DATE_MODIFY"], "start": -1])
            let ids = Self.ids(page)
            seen += ids
            pages += 1
            guard ids.count == 50, let tail = ids.last else { break }
            last = tail
        }
        #expect(seen == (1...5000).filter { ![7, 50, 51, 4999].contains($0) })
        #expect(pages == 100)
        let big = Self.emulator(deals: 100_000)
        let page = await Self.call(big, "crm.deal.list", ["order": ["ID": "ASC"], "filter": [">ID": 99_960], "start": -1])
        #expect(Self.ids(page) == Array(99_961...100_000))
        let middle = await Self.call(big, "crm.deal.list", ["order": ["ID": "ASC"], "filter": [">ID": 50_000, "CATEGORY_ID": 0], "start": -1])
        #expect(Self.ids(middle).count == 50 && Self.ids(middle).allSatisfy { $0 > 50_000 })
        // O(page): iterated from the bound, stopped after one page, not a scan of 100k records.
        #expect(await big.lastListExamined < 200)
        // A DATE_MODIFY filter scans, but cheaply (the modify time comes from the seed without building records).
        let cutoff = "2025-06-01T00:00:00+03:00"
        let recent = await Self.call(big, "crm.deal.list", ["order": ["ID": "ASC"], "filter": [">=DATE_MODIFY": .string(cutoff)], "select": ["ID", "DATE_MODIFY"]])
        let recentTotal = try #require(recent.body.objectValue?["total"]?.intValue)
        #expect(recentTotal > 1000 && recentTotal < 100_000)
        #expect(Self.rows(recent).allSatisfy { ISO8601DateFormatter().date(from: $0["DATE_MODIFY"]!.stringValue!)! >= ISO8601DateFormatter().date(from: cutoff)! })
        let counted = await Self.call(big, "crm.deal.list", ["order": ["ID": "ASC"], "filter": [">ID": 50_000], "select": ["ID"]])
        #expect(counted.body.objectValue?["total"] == 50_000 && counted.body.objectValue?["next"] == 50)
        let desc = await Self.call(big, "crm.deal.list", ["order": ["ID": "DESC"], "filter": ["<ID": 1000], "start": -1])
        #expect(Self.ids(desc) == Array((950...999).reversed()))
    }

    @Test("filter prefixes on dates (as instants), stages, categories and ids; a non-array filter is refused")
    func filters() async throws {
        let emulator = Self.emulator(deals: 300)
        var all: [[String: JSONValue]] = []
        for start in stride(from: 0, to: 300, by: 50) {
            all += Self.rows(await Self.call(emulator, "crm.deal.list", ["order": ["ID": "ASC"], "start": .number(Double(start))]))
        }
        #expect(all.count == 300)
        func time(_ row: [String: JSONValue], _ key: String = "DATE_MODIFY") -> Date {
            ISO8601DateFormatter().date(from: row[key]!.stringValue!)!
        }
        let pivot = all[150]
        let pivotText = pivot["DATE_MODIFY"]!.stringValue!
        // The same instant written in UTC.
        let utc = ISO8601DateFormatter().string(from: time(pivot))
        func fetch(_ filter: JSONValue, order: JSONValue = ["ID": "ASC"]) async -> [Int] {
            var ids: [Int] = []
            var start = 0
            while true {
                let page = await Self.call(emulator, "crm.deal.list", ["filter": filter, "order": order, "start": .number(Double(start)), "select": ["ID"]])
                ids += Self.ids(page)
                guard let next = page.body.objectValue?["next"]?.intValue else { return ids }
                start = next
            }
        }
        let ge = await fetch([">=DATE_MODIFY": .string(utc)])
        #expect(ge == all.filter { time($0) >= time(pivot) }.map { $0["ID"]!.intValue! })
        #expect(ge.contains(151))
        let gt = await fetch([">DATE_MODIFY": .string(pivotText)])
        #expect(gt == all.filter { time($0) > time(pivot) }.map { $0["ID"]!.intValue! })
        #expect(!gt.contains(151))
        let lt = await fetch(["<DATE_CREATE": .string(utc)])
        #expect(lt == all.filter { time($0, "DATE_CREATE") < time(pivot) }.map { $0["ID"]!.intValue! })
        let stages = await fetch(["@STAGE_ID": ["WON", "C1:WON"]])
        #expect(stages == all.filter { ["WON", "C1:WON"].contains($0["STAGE_ID"]!.stringValue!) }.map { $0["ID"]!.intValue! })
        #expect(!stages.isEmpty)
        let notNew = await fetch(["!STAGE_ID": "NEW", "CATEGORY_ID": 0])
        #expect(notNew == all.filter { $0["STAGE_ID"] != "NEW" && $0["CATEGORY_ID"] == "0" }.map { $0["ID"]!.intValue! })
        let pipeline1 = await fetch(["=CATEGORY_ID": "1", "ASSIGNED_BY_ID": ["2", "3"]])
        #expect(pipeline1 == all.filter { $0["CATEGORY_ID"] == "1" && ["2", "3"].contains($0["ASSIGNED_BY_ID"]!.stringValue!) }.map { $0["ID"]!.intValue! })
        let range = await fetch([">=ID": 10, "<=ID": 20, "!@ID": [11, 12]])
        #expect(range == [10] + Array(13...20))
        let byModify = await fetch([">ID": 280], order: ["DATE_MODIFY": "DESC"])
        #expect(byModify == all.filter { $0["ID"]!.intValue! > 280 }.sorted { (time($0), -$0["ID"]!.intValue!) > (time($1), -$1["ID"]!.intValue!) }.map { $0["ID"]!.intValue! })

        let bad = await Self.call(emulator, "crm.deal.list", ["filter": "ID>5"])
        #expect(bad.status == 400 && Self.error(bad) == "" && Self.description(bad) == "Parameter 'filter' must be array.")
        let scalarIn = await Self.call(emulator, "crm.deal.list", ["filter": ["@ID": "5"]])
        #expect(scalarIn.status == 400 && Self.description(scalarIn) == "Parameter 'filter' must be array.")
        // Form-encoded bodies with PHP brackets, and upper-case parameter names.
        let form = await Self.call(emulator, "crm.deal.list", form: "FILTER%5B%3EID%5D=10&ORDER%5BID%5D=ASC&SELECT%5B%5D=ID&start=-1")
        #expect(Self.ids(form).first == 11 && Self.rows(form).first?.keys.sorted() == ["ID"])
        let viaQuery = await Self.call(emulator, "crm.deal.list", query: [("filter[<ID]", "3"), ("select[]", "TITLE")])
        #expect(Self.ids(viaQuery) == [1, 2] && Self.rows(viaQuery).first?.keys.sorted() == ["ID", "TITLE"])
    }

    @Test("select: * without multi-fields or UF, UF_* only user fields, multi-fields only by name, ID always")
    func select() async throws {
        let emulator = Self.emulator(contacts: 60)
        func keys(_ select: JSONValue?) async -> [Set<String>] {
            var body: [String: JSONValue] = ["order": ["ID": "ASC"]]
            if let select { body["select"] = select }
            return Self.rows(await Self.call(emulator, "crm.contact.list", .object(body))).map { Set($0.keys) }
        }
        let star = await keys(["*"])
        #expect(star.allSatisfy { $0.contains("NAME") && $0.contains("DATE_MODIFY") && !$0.contains("PHONE") && !$0.contains { $0.hasPrefix("UF_") } })
        let uf = await keys(["UF_*"])
        #expect(uf.allSatisfy { $0 == ["ID", "UF_CRM_1687188367", "UF_CRM_1687188412", "UF_CRM_1687188455", "UF_CRM_1687188501", "UF_CRM_1687188533"] })
        let named = await keys(["NAME", "PHONE"])
        #expect(named.allSatisfy { $0.isSubset(of: ["ID", "NAME", "PHONE"]) && $0.contains("ID") })
        #expect(named.filter { $0.contains("PHONE") }.count > 30)
        let fallback = await keys(nil)
        #expect(fallback.allSatisfy { $0.contains("UF_CRM_1687188455") && $0.contains("LAST_NAME") && !$0.contains("PHONE") && !$0.contains("EMAIL") })
        let row = Self.rows(await Self.call(emulator, "crm.contact.list", ["select": ["PHONE", "UF_*"]]))
        let phone = try #require(row.compactMap { $0["PHONE"]?.b24Items }.first?.first?.objectValue)
        #expect(Set(phone.keys) == ["ID", "VALUE_TYPE", "VALUE", "TYPE_ID"] && phone["TYPE_ID"] == "PHONE")
        #expect(row.allSatisfy { ["1", "0"].contains($0["UF_CRM_1687188455"]!.stringValue!) })
    }

    // MARK: batch

    @Test("batch: $result references resolve, order as sent, [] for empty containers, halt, 50 limit, no nesting")
    func batch() async throws {
        let emulator = Self.emulator(deals: 120)
        // Our client percent-encodes $, [ and ].
        let p1 = "crm.deal.list?" + FormURLEncoding.encode([("order[ID]", "ASC"), ("filter[>ID]", "$result[p0][49][ID]"), ("start", "-1"), ("select[]", "ID")])
        // z1 is written first, so it runs first even though "a0" sorts before it.
        let raw = #"{"halt":0,"cmd":{"p0":"crm.deal.list?order%5BID%5D=ASC&start=-1&select%5B%5D=ID","z1":"crm.deal.get?id=3","p1":"\#(p1)","a0":"crm.deal.get?id=$result[z1][ID]"}}"#
        let answer = await emulator.handle(method: "POST", path: "/rest/1/\(Self.code)/batch", query: [], headers: ["content-type": "application/json"], body: raw)
        #expect(answer.status == 200)
        let result = try #require(answer.body.objectValue?["result"]?.objectValue)
        let results = try #require(result["result"]?.objectValue)
        #expect(results["p1"]?.b24Items?.first?.objectValue?["ID"] == "51")
        #expect(results["a0"]?.objectValue?["ID"] == "3")
        #expect(result["result_error"] == [] && result["result_next"] == [])
        #expect(result["result_total"] == ["p0": 0, "p1": 0])
        #expect(Set(result["result_time"]?.objectValue.map { Array($0.keys) } ?? []) == ["p0", "z1", "p1", "a0"])
        let encoded = String(decoding: try JSONEncoder().encode(answer.body), as: UTF8.self)
        #expect(encoded.contains(#""result_error":[]"#))
        let calls = await emulator.methodCalls
        #expect(calls == ["batch", "crm.deal.list", "crm.deal.get", "crm.deal.list", "crm.deal.get"])

        // A reference past the end of a short page resolves to "" — the filter is dropped and the walk restarts.
        let short = await Self.call(emulator, "batch", ["cmd": [
            "p0": "crm.deal.list?order%5BID%5D=ASC&filter%5B%3EID%5D=100&start=-1",
            "p1": "crm.deal.list?order%5BID%5D=ASC&filter%5B%3EID%5D=%24result%5Bp0%5D%5B49%5D%5BID%5D&start=-1",
        ]])
        let shortResults = short.body.objectValue?["result"]?.objectValue?["result"]?.objectValue
        #expect(shortResults?["p0"]?.b24Items?.count == 20)
        #expect(shortResults?["p1"]?.b24Items?.first?.objectValue?["ID"] == "1")

        var many: [String: JSONValue] = [:]
        for index in 0...50 { many["r\(index)"] = "crm.deal.get?id=1" }
        let tooMany = await Self.call(emulator, "batch", ["cmd": .object(many)])
        #expect(tooMany.status == 400 && Self.error(tooMany) == "ERROR_BATCH_LENGTH_EXCEEDED")

        // Written as text: JSONEncoder would put the keys of a dictionary in any order.
        func sendHalt(_ halt: Int) async -> Bitrix24Emulator.Answer {
            await emulator.handle(method: "POST", path: "/rest/1/\(Self.code)/batch.json", query: [], headers: ["content-type": "application/json"],
                                  body: #"{"halt":\#(halt),"cmd":{"a":"crm.deal.get?id=999","b":"crm.deal.get?id=1","c":"batch?cmd[x]=crm.deal.get"}}"#)
        }
        let halted = await sendHalt(1)
        let haltedResult = try #require(halted.body.objectValue?["result"]?.objectValue)
        #expect(haltedResult["result"] == [] && haltedResult["result_error"]?.objectValue?.keys.sorted() == ["a"])
        #expect(haltedResult["result_error"]?.objectValue?["a"] == ["error": "", "error_description": "Not found"])
        let full = await sendHalt(0)
        let fullResult = try #require(full.body.objectValue?["result"]?.objectValue)
        #expect(fullResult["result"]?.objectValue?.keys.sorted() == ["b"])
        #expect(fullResult["result_error"]?.objectValue?["c"]?.objectValue?["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED")
    }

    // MARK: limits and auth

    @Test("leaky bucket: 50 requests pass, the 51st is refused unexecuted with 503, it drains 2 per second; a batch counts once")
    func leakyBucket() async throws {
        let clock = B24TestClock()
        let emulator = Bitrix24Emulator(webhookCode: Self.code, deals: 10, seed: 1, clock: clock.function)
        for _ in 0..<49 { #expect(await Self.call(emulator, "crm.deal.get", ["id": 1]).status == 200) }
        let batch = await Self.call(emulator, "batch", ["cmd": ["a": "crm.deal.get?id=1", "b": "crm.deal.get?id=2"]])
        #expect(batch.status == 200)
        let refused = await Self.call(emulator, "crm.deal.get", ["id": 1])
        #expect(refused.status == 503 && refused.body == ["error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"])
        #expect(await emulator.methodCalls.count == 49 + 3)
        clock.advance(1)
        #expect(await Self.call(emulator, "crm.deal.get", ["id": 1]).status == 200)
        #expect(await Self.call(emulator, "crm.deal.get", ["id": 1]).status == 200)
        #expect(await Self.call(emulator, "crm.deal.get", ["id": 1]).status == 503)
        let rejected = await emulator.rejectedCount, requests = await emulator.requestCount
        #expect(rejected == 2 && requests == 54)
        #expect(await emulator.maxObservedRate == 50)
        await emulator.failNext(1, status: 429, error: "OPERATION_TIME_LIMIT")
        clock.advance(10)
        let injected = await Self.call(emulator, "crm.deal.get", ["id": 1])
        #expect(injected.status == 429 && Self.description(injected) == "Method is blocked due to operation time limit")
        #expect(await Self.call(emulator, "crm.deal.get", ["id": 1]).status == 200)
    }

    static func http(_ method: String, _ url: String, json: JSONValue? = nil) async throws -> (Int, JSONValue) {
        var request = HTTPClientRequest(url: url)
        request.method = method == "GET" ? .GET : .POST
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(json)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 8 << 20)
        return (Int(response.status.code), try JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)))
    }

    @Test("over HTTP: a wrong webhook code is 401; OAuth code → token → refresh rotates (the old refresh token dies); tokens expire")
    func authOverHTTP() async throws {
        let clock = B24TestClock()
        let emulator = Self.emulator(deals: 3, clock: clock)
        try await SandboxServer.withBitrix24(emulator) { base in
            let ok = try await Self.http("POST", "\(base)/rest/1/\(Self.code)/crm.deal.get.json", json: ["id": 2])
            #expect(ok.0 == 200 && ok.1.objectValue?["result"]?.objectValue?["ID"] == "2")
            let bare = try await Self.http("GET", "\(base)/rest/1/\(Self.code)/crm.deal.get?id=3")
            #expect(bare.0 == 200)
            let wrong = try await Self.http("POST", "\(base)/rest/1/not-the-code/crm.deal.list.json", json: [:])
            #expect(wrong.0 == 401 && wrong.1 == ["error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"])

            let client = "client_id=\(emulator.clientID)&client_secret=\(emulator.clientSecret)"
            let code = await emulator.issueAuthorizationCode()
            let (status, token) = try await Self.http("GET", "\(base)/oauth/token/?grant_type=authorization_code&\(client)&code=\(code)")
            #expect(status == 200)
            let tokens = try #require(token.objectValue)
            #expect(tokens["client_endpoint"] == .string(base + "/rest/") && tokens["expires_in"] == 3600 && tokens["status"] == "L")
            #expect(tokens["member_id"] == .string(emulator.memberID) && tokens["expires"] != nil && tokens["user_id"] == 1)
            let access = try #require(tokens["access_token"]?.stringValue), refresh = try #require(tokens["refresh_token"]?.stringValue)
            let reuse = try await Self.http("GET", "\(base)/oauth/token/?grant_type=authorization_code&\(client)&code=\(code)")
            #expect(reuse.0 == 400 && reuse.1.objectValue?["error"] == "invalid_grant")

            let viaQuery = try await Self.http("GET", "\(base)/rest/crm.deal.get.json?id=1&auth=\(access)")
            #expect(viaQuery.0 == 200)
            let viaBody = try await Self.http("POST", "\(base)/rest/crm.deal.list", json: ["auth": .string(access), "select": ["ID"]])
            #expect(viaBody.0 == 200 && viaBody.1.objectValue?["total"] == 3)
            let unknown = try await Self.http("POST", "\(base)/rest/crm.deal.list", json: ["auth": "nope"])
            #expect(unknown.0 == 401 && unknown.1.objectValue?["error"] == "NO_AUTH_FOUND")

            clock.advance(3601)
            let expired = try await Self.http("GET", "\(base)/rest/crm.deal.get?id=1&auth=\(access)")
            #expect(expired.0 == 401 && expired.1.objectValue?["error"] == "expired_token")
            let renewed = try await Self.http("POST", "\(base)/oauth/token/?grant_type=refresh_token&\(client)&refresh_token=\(refresh)")
            #expect(renewed.0 == 200)
            let newRefresh = try #require(renewed.1.objectValue?["refresh_token"]?.stringValue)
            #expect(newRefresh != refresh)
            let newAccess = try #require(renewed.1.objectValue?["access_token"]?.stringValue)
            #expect(try await Self.http("GET", "\(base)/rest/crm.deal.get?id=1&auth=\(newAccess)").0 == 200)
            let old = try await Self.http("GET", "\(base)/oauth/token/?grant_type=refresh_token&\(client)&refresh_token=\(refresh)")
            #expect(old.0 == 400 && old.1.objectValue?["error"] == "invalid_grant")

            let late = await emulator.issueAuthorizationCode()
            clock.advance(31)
            #expect(try await Self.http("GET", "\(base)/oauth/token/?grant_type=authorization_code&\(client)&code=\(late)").0 == 400)
            let state = try await Self.http("GET", "\(base)/sandbox/state")
            #expect(state.1.objectValue?["counts"]?.objectValue?["deal"] == 3)
        }
    }

    @Test("telephony and event.bind through the webhook are refused with WRONG_AUTH_TYPE unless allowed")
    func wrongAuthType() async throws {
        let emulator = Self.emulator()
        let refused = await Self.call(emulator, "telephony.externalcall.register", ["USER_ID": 1, "PHONE_NUMBER": "+79161234567", "TYPE": 2])
        #expect(refused.status == 400 && refused.body == ["error": "WRONG_AUTH_TYPE", "error_description": "Current authorization type is denied for this method"])
        let bind = await Self.call(emulator, "event.bind", ["event": "ONCRMDEALADD", "handler": "http://127.0.0.1:1/"])
        #expect(Self.error(bind) == "WRONG_AUTH_TYPE")
        await emulator.configure(allowTelephonyViaWebhook: true)
        let allowed = await Self.call(emulator, "telephony.externalCall.register", ["USER_ID": 1, "PHONE_NUMBER": "+79161234567", "TYPE": 2])
        #expect(allowed.status == 200)
        let unknown = await Self.call(emulator, "crm.deal.explode")
        #expect(unknown.status == 404 && unknown.body == ["error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"])
    }

    @Test("register: the 30-minute dedup trap returns the old CALL_ID; finish twice fails; phone lookup; CRM_CREATE makes a lead")
    func telephony() async throws {
        let clock = B24TestClock()
        let emulator = Self.emulator(contacts: 50, clock: clock)
        let token = await emulator.issueAccessToken()
        let params: JSONValue = ["USER_PHONE_INNER": "102", "PHONE_NUMBER": "+74951112233", "TYPE": 2, "LINE_NUMBER": "74950000000", "CRM_CREATE": 0]
        let first = await Self.call(emulator, "telephony.externalcall.register", params, token: token)
        let callID = try #require(first.body.objectValue?["result"]?.objectValue?["CALL_ID"]?.stringValue)
        #expect(callID.hasPrefix("externalCall.") && callID.split(separator: ".").count == 3 && callID.split(separator: ".")[1].count == 32)
        clock.advance(20 * 60)
        let again = await Self.call(emulator, "telephony.externalcall.register", params, token: token)
        #expect(again.body.objectValue?["result"]?.objectValue?["CALL_ID"]?.stringValue == callID)

        let finish: JSONValue = ["CALL_ID": .string(callID), "USER_ID": 2, "DURATION": 42]
        let finished = await Self.call(emulator, "telephony.externalcall.finish", finish, token: token)
        let result = try #require(finished.body.objectValue?["result"]?.objectValue)
        #expect(result["CALL_FAILED_CODE"] == "200" && result["CALL_STATUS"] == 1 && result["CALL_DURATION"] == 42 && result["PORTAL_USER_ID"] == 2)
        let twice = await Self.call(emulator, "telephony.externalcall.finish", finish, token: token)
        #expect(twice.status == 400 && twice.body == ["error": "", "error_description": "Call is not found (call should be registered prior to finishing"])
        // Still inside 30 minutes: register hands back the finished call, whose finish then fails — the trap.
        let trapped = await Self.call(emulator, "telephony.externalcall.register", params, token: token)
        #expect(trapped.body.objectValue?["result"]?.objectValue?["CALL_ID"]?.stringValue == callID)
        var unique = params.objectValue!
        unique["EXTERNAL_CALL_ID"] = "1700000000.17"
        let fresh = await Self.call(emulator, "telephony.externalcall.register", .object(unique), token: token)
        let freshID = try #require(fresh.body.objectValue?["result"]?.objectValue?["CALL_ID"]?.stringValue)
        #expect(freshID != callID)
        let missed = await Self.call(emulator, "telephony.externalcall.finish", ["CALL_ID": .string(freshID), "USER_ID": 2], token: token)
        #expect(missed.body.objectValue?["result"]?.objectValue?["CALL_FAILED_CODE"] == "304")
        clock.advance(11 * 60)
        let later = await Self.call(emulator, "telephony.externalcall.register", params, token: token)
        #expect(later.body.objectValue?["result"]?.objectValue?["CALL_ID"]?.stringValue != callID)
        let unknown = await Self.call(emulator, "telephony.externalcall.finish", ["CALL_ID": "externalCall.x.1", "USER_ID": 2], token: token)
        #expect(Self.description(unknown) == "Call is not found (call should be registered prior to finishing")

        let record = await Self.call(emulator, "telephony.externalcall.attachRecord",
                                     ["CALL_ID": .string(callID), "FILENAME": "call.mp3", "FILE_CONTENT": "SUQzBAAAAAAA"], token: token)
        #expect(record.body.objectValue?["result"]?.objectValue?["FILE_ID"]?.intValue != nil)
        let early = await Self.call(emulator, "telephony.externalcall.attachRecord", ["CALL_ID": .string(later.body.objectValue!["result"]!.objectValue!["CALL_ID"]!.stringValue!), "RECORD_URL": "https://pbx/1.mp3"], token: token)
        #expect(early.status == 400)

        // Number lookup: contact 1's phone, written another way, finds the contact.
        let withPhone = await (1...50).asyncFirst { id in await emulator.record(.contact, id: id)?.objectValue?["PHONE"] != nil }
        let phoneOwner = try #require(withPhone)
        let phone = try #require(await emulator.record(.contact, id: phoneOwner)?.objectValue?["PHONE"]?.b24Items?.first?.objectValue?["VALUE"]?.stringValue)
        let digits = phone.filter(\.isNumber)
        let found = await Self.call(emulator, "telephony.externalcall.register",
                                    ["USER_ID": 3, "PHONE_NUMBER": .string("8" + digits.suffix(10)), "TYPE": 1], token: token)
        #expect(found.body.objectValue?["result"]?.objectValue?["CRM_ENTITY_TYPE"] == "CONTACT")
        #expect(found.body.objectValue?["result"]?.objectValue?["CRM_ENTITY_ID"]?.intValue == phoneOwner)
        let created = await Self.call(emulator, "telephony.externalcall.register",
                                      ["USER_ID": 3, "PHONE_NUMBER": "+70000000001", "TYPE": 2, "CRM_CREATE": 1], token: token)
        let createdResult = try #require(created.body.objectValue?["result"]?.objectValue)
        #expect(createdResult["CRM_ENTITY_TYPE"] == "LEAD" && createdResult["CRM_CREATED_LEAD"] == 1)
        #expect(await emulator.count(.lead) == 1)
        let badType = await Self.call(emulator, "telephony.externalcall.register", ["USER_ID": 3, "PHONE_NUMBER": "+70000000001", "TYPE": 9], token: token)
        #expect(badType.body == ["error": "ERROR_CORE", "error_description": "Unknown TYPE"])
        let noUser = await Self.call(emulator, "telephony.externalcall.register", ["USER_ID": 99, "PHONE_NUMBER": "+70000000001", "TYPE": 2], token: token)
        #expect(Self.description(noUser) == "User is not found or is not active")
        let calls = await emulator.externalCalls
        #expect(calls.first?.finishParams?["DURATION"] == "42" && calls.first?.records.first?.filename == "call.mp3")
    }

    // MARK: events

    /// A loopback receiver that keeps every body posted to it.
    static func withReceiver(_ body: @Sendable (String, @escaping @Sendable () -> [String]) async throws -> Void) async throws {
        let received = Mutex<[String]>([])
        let router = Router()
        router.post("hook") { request, _ -> HTTPResponse.Status in
            let text = String(buffer: try await request.body.collect(upTo: 1 << 20))
            received.withLock { $0.append(text) }
            return .ok
        }
        try await SandboxServer.runOnLoopback(router: router, serverName: "receiver", port: 0) { base in
            try await body(base + "/hook") { received.withLock { $0 } }
        }
    }

    @Test("online events are POSTed form-encoded like Bitrix24's recorded body; a dead handler's event is lost, not retried")
    func onlineEvents() async throws {
        let emulator = Self.emulator(deals: 10, contacts: 5)
        let fixture = try Fixtures.text("bitrix24/b24_event_oncrmcontactadd.form-urlencoded.txt")
        let fixtureKeys = try FormURLEncoding.decode(fixture.trimmingCharacters(in: .whitespacesAndNewlines)).map(\.0)
        try await Self.withReceiver { hook, received in
            let token = await emulator.issueAccessToken()
            #expect(await Self.call(emulator, "event.bind", ["event": "onCrmContactAdd", "handler": .string(hook)], token: token).body.objectValue?["result"] == true)
            let twice = await Self.call(emulator, "event.bind", ["event": "ONCRMCONTACTADD", "handler": .string(hook)], token: token)
            #expect(twice.status == 400)
            let added = await Self.call(emulator, "crm.contact.add", ["fields": ["NAME": "Ирина", "PHONE": [["VALUE": "+7 916 000-11-22", "VALUE_TYPE": "WORK"]]]], token: token)
            let id = try #require(added.body.objectValue?["result"]?.intValue)
            #expect(id == 6)
            await emulator.flushDeliveries()
            let bodies = received()
            try #require(bodies.count == 1)
            #expect(try FormURLEncoding.decode(bodies[0]).map(\.0) == fixtureKeys)
            let form = try FormURLEncoding.decodeNested(bodies[0])
            #expect(form["event"] == "ONCRMCONTACTADD")
            #expect(form["data"]?.objectValue?["FIELDS"]?.objectValue?["ID"] == "6")
            let auth = try #require(form["auth"]?.objectValue)
            #expect(auth["application_token"] == .string(emulator.applicationToken))
            let access = try #require(auth["access_token"]?.stringValue)
            #expect(await Self.call(emulator, "crm.contact.get", ["id": 6], token: access).status == 200)
            let events = await Self.call(emulator, "event.get", token: token)
            #expect(Self.rows(events).first?["event"] == "ONCRMCONTACTADD")

            // An outgoing webhook (portal UI) gets only the five documented auth keys.
            await emulator.addOutgoingWebhook(handler: hook, events: ["ONCRMDEALUPDATE"], applicationToken: "wh-app-token")
            await emulator.touch(entity: .deal, id: 4)
            await emulator.flushDeliveries()
            let hookBody = try FormURLEncoding.decode(try #require(received().last))
            #expect(hookBody.map(\.0) == ["event", "event_handler_id", "data[FIELDS][ID]", "ts", "auth[domain]", "auth[client_endpoint]",
                                           "auth[server_endpoint]", "auth[member_id]", "auth[application_token]"])
            #expect(hookBody.first { $0.0 == "auth[application_token]" }?.1 == "wh-app-token")
            #expect(hookBody.first { $0.0 == "data[FIELDS][ID]" }?.1 == "4")
        }
        // The receiver is gone: the next delivery fails and is counted, never retried.
        await emulator.deleteRecord(entity: .contact, id: 2)
        let token = await emulator.issueAccessToken()
        await emulator.configure(deliveryTimeout: 0.5)
        await Self.call(emulator, "event.bind", ["event": "ONCRMDEALDELETE", "handler": "http://127.0.0.1:1/dead"], token: token)
        await emulator.deleteRecord(entity: .deal, id: 9)
        await emulator.flushDeliveries()
        let toDeadHandler = await emulator.deliveries.filter { $0.handler.hasSuffix(":1/dead") }
        #expect(toDeadHandler.count == 1 && toDeadHandler.allSatisfy { !$0.delivered })
        let before = await emulator.deliveries.count
        await emulator.flushDeliveries()
        #expect(await emulator.deliveries.count == before)
        let lost = await emulator.deliveries.last
        #expect(lost?.handler == "http://127.0.0.1:1/dead" && lost?.status == nil)
    }

    @Test("click-to-call registers the call and sends ONEXTERNALCALLSTART with the user's extension")
    func clickToCall() async throws {
        let emulator = Self.emulator(contacts: 3)
        try await Self.withReceiver { hook, received in
            let token = await emulator.issueAccessToken()
            await Self.call(emulator, "telephony.externalLine.add", ["NUMBER": "74951234567", "NAME": "Основная"], token: token)
            await Self.call(emulator, "event.bind", ["event": "ONEXTERNALCALLSTART", "handler": .string(hook)], token: token)
            let callID = try #require(await emulator.startClickToCall(userID: 4, phone: "+7 903 555-00-11"))
            await emulator.flushDeliveries()
            let form = try FormURLEncoding.decodeNested(try #require(received().first))
            let data = try #require(form["data"]?.objectValue)
            #expect(form["event"] == "ONEXTERNALCALLSTART" && data["CALL_ID"] == .string(callID))
            #expect(data["EXTENSION"] == "104" && data["USER_ID"] == "4" && data["LINE_NUMBER"] == "74951234567" && data["IS_MOBILE"] == "0")
            #expect(data["PHONE_NUMBER_INTERNATIONAL"] == "+79035550011")
            #expect(await emulator.externalCalls.last?.clickToCall == true)
        }
    }

    @Test("offline events keep only the latest record per object; clear=0 marks records for one process until event.offline.clear; clear=1 deletes")
    func offlineEvents() async throws {
        let clock = B24TestClock()
        let emulator = Self.emulator(deals: 20, clock: clock)
        let token = await emulator.issueAccessToken()
        await Self.call(emulator, "event.bind", ["event": "ONCRMDEALUPDATE", "event_type": "offline"], token: token)
        for _ in 0..<3 {
            await emulator.touch(entity: .deal, id: 7)
            clock.advance(5)
        }
        await Self.call(emulator, "crm.deal.update", ["id": 8, "fields": ["TITLE": "Новое название"]], token: token)
        let peek = await Self.call(emulator, "event.offline.get", ["clear": 0], token: token)
        let events = try #require(peek.body.objectValue?["result"]?.objectValue?["events"]?.b24Items)
        #expect(events.compactMap { $0.objectValue?["EVENT_DATA"]?.objectValue?["FIELDS"]?.objectValue?["ID"]?.intValue } == [7, 8])
        #expect(events.first?.objectValue?["TIMESTAMP_X"] == .string(ISO8601Helper.moscow(clock.now() - 5)))
        let process = try #require(peek.body.objectValue?["result"]?.objectValue?["process_id"]?.stringValue)
        // Taken by that process: other readers do not get them, the process gets them again.
        let other = await Self.call(emulator, "event.offline.get", ["clear": 0], token: token)
        #expect(other.body.objectValue?["result"]?.objectValue?["events"] == [])
        let taken = await Self.call(emulator, "event.offline.get", ["clear": 1, "limit": 1, "process_id": .string(process)], token: token)
        #expect(taken.body.objectValue?["result"]?.objectValue?["events"]?.b24Items?.count == 1)
        await emulator.touch(entity: .deal, id: 8)  // a newer edit of a taken record is queued beside it, not lost
        #expect(await emulator.offlineQueueCount == 2)
        let noProcess = await Self.call(emulator, "event.offline.clear", [:], token: token)
        #expect(noProcess.status == 400)
        await Self.call(emulator, "event.offline.clear", ["process_id": .string(process)], token: token)
        let rest = await Self.call(emulator, "event.offline.get", token: token)
        #expect(rest.body.objectValue?["result"]?.objectValue?["events"]?.b24Items?.count == 1)
        let empty = await Self.call(emulator, "event.offline.get", token: token)
        #expect(empty.body.objectValue?["result"]?.objectValue?["events"] == [])
    }

    // MARK: records, metadata, drift

    @Test("add, update (multi-field rules, stage must match the pipeline), delete; DATE_MODIFY moves")
    func writes() async throws {
        let clock = B24TestClock()
        let emulator = Self.emulator(deals: 5, contacts: 5, clock: clock)
        let added = await Self.call(emulator, "crm.deal.add", ["fields": ["TITLE": "Поставка", "CATEGORY_ID": 1, "OPPORTUNITY": 1500.5]])
        #expect(added.body.objectValue?["result"] == 6)
        let deal = try #require(await emulator.record(.deal, id: 6)?.objectValue)
        #expect(deal["STAGE_ID"] == "C1:NEW" && deal["OPPORTUNITY"] == "1500.5" && deal["DATE_CREATE"] == .string(ISO8601Helper.moscow(clock.now())))
        let wrongStage = await Self.call(emulator, "crm.deal.update", ["id": 6, "fields": ["STAGE_ID": "WON"]])
        #expect(wrongStage.status == 400)
        clock.advance(60)
        #expect(await Self.call(emulator, "crm.deal.update", ["id": 6, "fields": ["STAGE_ID": "C1:WON"]]).body.objectValue?["result"] == true)
        let moved = try #require(await emulator.record(.deal, id: 6)?.objectValue)
        #expect(moved["STAGE_ID"] == "C1:WON" && moved["CLOSED"] == "Y" && moved["DATE_MODIFY"] == .string(ISO8601Helper.moscow(clock.now())))
        let recent = await Self.call(emulator, "crm.deal.list", ["filter": [">=DATE_MODIFY": .string(ISO8601Helper.moscow(clock.now()))]])
        #expect(Self.ids(recent) == [6])

        let contact = await Self.call(emulator, "crm.contact.add", ["fields": ["NAME": "Олег", "PHONE": [["VALUE": "+7 916 111-22-33", "VALUE_TYPE": "WORK"], ["VALUE": "84951112233", "VALUE_TYPE": "HOME"]]]])
        let contactID = try #require(contact.body.objectValue?["result"]?.intValue)
        let phones = try #require(await emulator.record(.contact, id: contactID)?.objectValue?["PHONE"]?.b24Items)
        #expect(phones.count == 2)
        let firstID = try #require(phones[0].objectValue?["ID"]), secondID = try #require(phones[1].objectValue?["ID"])
        // With ID: overwrite; without: append; ID + DELETE:"Y": delete.
        let form = FormURLEncoding.encodeNested(["id": .number(Double(contactID)), "fields": ["PHONE": [
            ["ID": firstID, "VALUE": "+7 916 999-88-77"], ["VALUE": "+7 926 000-00-01", "VALUE_TYPE": "MOBILE"], ["ID": secondID, "DELETE": "Y"]]]])
        #expect(await Self.call(emulator, "crm.contact.update", form: form).status == 200)
        let after = try #require(await emulator.record(.contact, id: contactID)?.objectValue?["PHONE"]?.b24Items).compactMap { $0.objectValue?["VALUE"]?.stringValue }
        #expect(after == ["+7 916 999-88-77", "+7 926 000-00-01"])
        let gone = await Self.call(emulator, "crm.contact.update", ["id": .number(Double(contactID)), "fields": ["PHONE": [["ID": firstID, "VALUE": ""]]]])
        #expect(gone.status == 200)
        #expect(await emulator.record(.contact, id: contactID)?.objectValue?["PHONE"]?.b24Items?.count == 1)

        #expect(await Self.call(emulator, "crm.deal.delete", ["id": 2]).body.objectValue?["result"] == true)
        let missing = await Self.call(emulator, "crm.deal.get", ["id": 2])
        #expect(missing.status == 400 && missing.body == ["error": "", "error_description": "Not found"])
        #expect(Self.ids(await Self.call(emulator, "crm.deal.list", [:])) == [1, 3, 4, 5, 6])
        #expect(await emulator.count(.deal) == 5)
        #expect(await emulator.methodCalls.contains("crm.contact.update"))
    }

    @Test("fields, statuses, pipelines and users look like Bitrix24's")
    func metadata() async throws {
        let emulator = Self.emulator(deals: 1)
        let deal = try #require(await Self.call(emulator, "crm.deal.fields").body.objectValue?["result"]?.objectValue)
        #expect(deal["STAGE_ID"]?.objectValue?["statusType"] == "DEAL_STAGE" && deal["CATEGORY_ID"]?.objectValue?["type"] == "crm_category")
        #expect(deal["PHONE"] == nil && deal["ASSIGNED_BY_ID"]?.objectValue?["type"] == "user")
        let uf = try #require(deal["UF_CRM_1687188412"]?.objectValue)
        #expect(uf["isDynamic"] == true && uf["title"] == "UF_CRM_1687188412" && uf["listLabel"] == "Способ доставки" && uf["type"] == "enumeration")
        #expect(uf["items"]?.b24Items?.first == ["ID": "45", "VALUE": "Самовывоз"])
        let lead = try #require(await Self.call(emulator, "crm.lead.fields").body.objectValue?["result"]?.objectValue)
        #expect(lead["PHONE"]?.objectValue?["type"] == "crm_multifield" && lead["PHONE"]?.objectValue?["isMultiple"] == true)
        #expect(lead["STATUS_ID"]?.objectValue?["statusType"] == "STATUS")
        let fixture = try #require(JSONValue.parse(try Fixtures.text("bitrix24/b24_crm_lead_fields.response.json"))?.objectValue?["result"]?.objectValue)
        #expect(Set(lead["TITLE"]!.objectValue!.keys) == Set(fixture["TITLE"]!.objectValue!.keys))

        let stages = Self.rows(await Self.call(emulator, "crm.status.list", ["filter": ["ENTITY_ID": "DEAL_STAGE_1"]]))
        #expect(stages.map { $0["STATUS_ID"]!.stringValue! } == ["C1:NEW", "C1:PREPARATION", "C1:EXECUTING", "C1:WON", "C1:LOSE"])
        #expect(stages.last?["EXTRA"]?.objectValue?["SEMANTICS"] == "failure" && stages.last?["SEMANTICS"] == "F")
        #expect(Set(stages[0].keys) == ["ID", "ENTITY_ID", "STATUS_ID", "NAME", "NAME_INIT", "SORT", "SYSTEM", "CATEGORY_ID", "COLOR", "SEMANTICS", "EXTRA"])
        let categories = await Self.call(emulator, "crm.category.list", ["entityTypeId": 2])
        let list = try #require(categories.body.objectValue?["result"]?.objectValue?["categories"]?.b24Items)
        #expect(list.first == ["id": 0, "name": "Общая", "sort": 100, "entityTypeId": 2, "isDefault": "Y"] && categories.body.objectValue?["total"] == 2)
        let users = Self.rows(await Self.call(emulator, "user.get", ["FILTER": ["UF_PHONE_INNER": "105"]]))
        #expect(users.count == 1 && users[0]["ID"] == "5" && users[0]["ACTIVE"] == true)
        #expect(await Self.call(emulator, "user.get").body.objectValue?["total"] == 8)
    }

    @Test("schema drift: user fields appear with deterministic values, disappear, and change type")
    func drift() async throws {
        let a = Self.emulator(deals: 30), b = Self.emulator(deals: 30)
        for emulator in [a, b] {
            await emulator.addUserField(entity: .deal, code: "UF_CRM_1700000001", type: "enumeration", label: "Регион", items: ["Москва", "Казань"])
        }
        let fields = try #require(await Self.call(a, "crm.deal.fields").body.objectValue?["result"]?.objectValue)
        #expect(fields["UF_CRM_1700000001"]?.objectValue?["formLabel"] == "Регион" && fields["UF_CRM_1700000001"]?.objectValue?["items"]?.b24Items?.count == 2)
        let rowsA = Self.rows(await Self.call(a, "crm.deal.list", ["select": ["UF_*"]]))
        let rowsB = Self.rows(await Self.call(b, "crm.deal.list", ["select": ["UF_*"]]))
        #expect(rowsA == rowsB && rowsA.contains { $0["UF_CRM_1700000001"] != .null })
        await a.changeFieldType(entity: .deal, code: "UF_CRM_1700000001", to: "boolean")
        let flags = Self.rows(await Self.call(a, "crm.deal.list", ["select": ["UF_CRM_1700000001"]]))
        #expect(flags.allSatisfy { ["1", "0"].contains($0["UF_CRM_1700000001"]?.stringValue ?? "") })
        #expect(await Self.call(a, "crm.deal.fields").body.objectValue?["result"]?.objectValue?["UF_CRM_1700000001"]?.objectValue?["type"] == "boolean")
        await a.removeUserField(entity: .deal, code: "UF_CRM_1700000001")
        #expect(await Self.call(a, "crm.deal.fields").body.objectValue?["result"]?.objectValue?["UF_CRM_1700000001"] == nil)
        #expect(Self.rows(await Self.call(a, "crm.deal.list", [:])).allSatisfy { $0["UF_CRM_1700000001"] == nil })
    }

    @Test("the same seed gives the same portal; another seed another")
    func determinism() async throws {
        let clock = B24TestClock()
        let one = Self.emulator(deals: 80, contacts: 80, leads: 80, companies: 80, seed: 42, clock: clock)
        let two = Self.emulator(deals: 80, contacts: 80, leads: 80, companies: 80, seed: 42, clock: clock)
        let other = Self.emulator(deals: 80, contacts: 80, leads: 80, companies: 80, seed: 43, clock: clock)
        for entity in ["deal", "contact", "lead", "company"] {
            let query: JSONValue = ["select": ["*", "UF_*", "PHONE", "EMAIL"], "start": 50]
            let a = await Self.call(one, "crm.\(entity).list", query), b = await Self.call(two, "crm.\(entity).list", query)
            #expect(Self.rows(a) == Self.rows(b) && Self.rows(a).count == 30)
            #expect(Self.rows(a) != Self.rows(await Self.call(other, "crm.\(entity).list", query)))
        }
        let contact = try #require(await one.record(.contact, id: 3)?.objectValue)
        #expect(contact["NAME"]?.stringValue?.isEmpty == false && contact["LAST_NAME"]?.stringValue?.isEmpty == false)
        let dates = Self.rows(await Self.call(one, "crm.deal.list", ["select": ["DATE_CREATE"]])).compactMap { $0["DATE_CREATE"]?.stringValue }
        let oldest = try #require(dates.min()), newest = try #require(dates.max())
        #expect(oldest < ISO8601Helper.moscow(clock.now() - 600 * 86400) && newest > ISO8601Helper.moscow(clock.now() - 400 * 86400))
    }
}

enum ISO8601Helper {
    /// A unix time as Bitrix24 prints it in Moscow time.
    static func moscow(_ time: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 3 * 3600)
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'+03:00'"
        return formatter.string(from: Date(timeIntervalSince1970: time))
    }
}

extension JSONValue {
    var b24Items: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    static func parse(_ text: String) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
}

extension Sequence where Element: Sendable {
    func asyncFirst(_ predicate: (Element) async -> Bool) async -> Element? {
        for element in self where await predicate(element) { return element }
        return nil
    }
}
