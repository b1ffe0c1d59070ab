import Foundation
import RetailCRM
import Sandbox
import SwitchboardCore
import Synchronization
import Testing

@Suite("RetailCRM client against the Sandbox emulator")
struct RetailCRMTests {
    static let module = RetailCRMIntegrationModule(
        code: "switchboard", name: "Switchboard", logo: "<svg xmlns='http://www.w3.org/2000/svg'/>", clientId: "tenant-1",
        baseUrl: "http://127.0.0.1:8080", accountUrl: "http://127.0.0.1:8080/retailcrm/account?token=t",
        telephony: .init(makeCallUrl: "http://127.0.0.1:8080/retailcrm/make-call", changeUserStatusUrl: nil,
                         additionalCodes: [.init(userId: "19", code: "101")]))

    @Test("module registration, call events and uploads go through with the real API's rules")
    func telephonyFlow() async throws {
        let emulator = RetailCRMEmulator()
        let exchanges = Mutex<[RetailCRMExchange]>([])
        try await SandboxServer.withRetailCRM(emulator) { base in
            let client = RetailCRMClient(baseURL: base + "/", apiKey: "sandbox-retailcrm-key", timeout: .seconds(15)) { exchange in exchanges.withLock { $0.append(exchange) } }
            let event = RetailCRMCallEvent(phone: "+375296254070", type: "in", codes: ["101"], callExternalId: "1795393336.0")
            // Before a telephony module is active RetailCRM refuses call events.
            await #expect(throws: RetailCRMError(status: 400, message: "Telephony not enabled", errors: [:], retryAfter: nil)) {
                try await client.sendCallEvent(event)
            }
            var bad = Self.module
            bad.logo = "https://example.com/logo.png"
            bad.baseUrl = ""
            do {
                try await client.editModule(bad)
                Issue.record("a PNG logo and an empty baseUrl were accepted")
            } catch let error as RetailCRMError {
                #expect(error.status == 400 && error.errors["logo"] == "Logo image must be svg" && error.errors["baseUrl"] != nil)
                #expect(!error.isRetryable)
            }
            try await client.editModule(Self.module)
            #expect(await emulator.module == Self.module)

            try await client.sendCallEvent(event)
            var hangup = event
            hangup.type = "hangup"
            hangup.hangupStatus = "no answer"  // the upload's spelling is wrong here: RetailCRM wants "no answered"
            await #expect(throws: RetailCRMError.self) { try await client.sendCallEvent(hangup) }
            hangup.hangupStatus = "no answered"
            try await client.sendCallEvent(hangup)
            #expect(await emulator.callEvents.count == 2)

            let call = RetailCRMCall(
                date: "2026-11-23 03:22:16", type: "in", phone: "375296254070", code: "101", result: "answered", duration: 3,
                externalId: "1795393336.0", recordUrl: "https://pbx.example.com/rec/1.wav")
            let first = try await client.uploadCalls([call])
            #expect(first.processedCallsCount == 1 && first.duplicateCalls == [])
            let again = try await client.uploadCalls([call])
            #expect(again.processedCallsCount == 0 && again.duplicateCalls == ["1795393336.0"])
            var missed = call
            missed.result = "missed"  // the seed's word; RetailCRM has no such result
            missed.externalId = "2"
            await #expect(throws: RetailCRMError.self) { _ = try await client.uploadCalls([missed]) }

            // Lookups: responsible manager by phone, users page by page, tasks for existing users only.
            #expect(try await client.responsibleManager(phone: "+375296254070")?.manager?.id == 19)
            #expect(try await client.responsibleManager(phone: "+79990000000")?.manager == nil)
            #expect(try await client.allUsers().map(\.id) == [18, 19, 22])
            #expect(try await client.createTask(RetailCRMTask(text: "Перезвонить", performerId: 19, phone: "+375296254070")) == 1)
            await #expect(throws: RetailCRMError.self) { _ = try await client.createTask(RetailCRMTask(text: "x", performerId: 999)) }

            // The key is checked; an outage answers 503, which is worth retrying.
            let wrong = RetailCRMClient(baseURL: base, apiKey: "nope", timeout: .seconds(15))
            await #expect(throws: RetailCRMError(status: 403, message: "Wrong \"apiKey\" value.", errors: [:], retryAfter: nil)) {
                _ = try await wrong.credentials()
            }
            await emulator.failNext(1)
            do {
                try await client.sendCallEvent(event)
                Issue.record("the injected outage did not fail")
            } catch let error as RetailCRMError {
                #expect(error.status == 503 && error.isRetryable)
            }
        }
        // Every exchange was observed for the integration log, without the API key.
        let logged = exchanges.withLock { $0 }
        #expect(logged.count >= 12)
        #expect(logged.allSatisfy { !$0.request.contains("sandbox-retailcrm-key") && !$0.path.contains("sandbox-retailcrm-key") })
        #expect(logged.contains { $0.path == "/api/v5/telephony/call/event" && $0.request.hasPrefix("event=") })
    }

    @Test("a closed port or a hung server is a retryable error within the timeout")
    func transportFailures() async throws {
        let client = RetailCRMClient(baseURL: "http://127.0.0.1:1", apiKey: "k", timeout: .seconds(1))
        do {
            _ = try await client.credentials()
            Issue.record("a closed port answered")
        } catch let error as RetailCRMError {
            #expect(error.status == 0 && error.isRetryable)
        }
    }

    @Test("the emulator refuses nested form keys, JSON bodies and oversized uploads, and rate-limits per key")
    func emulatorRules() async throws {
        let now = Mutex(1_000.0)
        let emulator = RetailCRMEmulator(clock: { now.withLock { $0 } })
        await emulator.setModule(Self.module)
        let form = ["content-type": "application/x-www-form-urlencoded", "x-api-key": "sandbox-retailcrm-key"]
        let nested = await emulator.handle(method: "POST", path: "/api/v5/telephony/call/event", query: [], headers: form, body: "event%5Bphone%5D=1")
        #expect(nested == .error(400, "Input value \"event\" contains a non-scalar value."))
        let json = await emulator.handle(
            method: "POST", path: "/api/v5/telephony/call/event", query: [],
            headers: ["content-type": "application/json", "x-api-key": "sandbox-retailcrm-key"], body: #"{"event":{}}"#)
        #expect(json == .error(400, "Parameter 'event' is missing"))
        let call = RetailCRMCall(date: "2026-11-23 03:22:16", type: "in", phone: "1", result: "answered", duration: 1, externalId: "x")
        let tooMany = String(decoding: try JSONEncoder().encode(Array(repeating: call, count: 51)), as: UTF8.self)
        let oversized = await emulator.handle(
            method: "POST", path: "/api/v5/telephony/calls/upload", query: [], headers: form, body: FormURLEncoding.encode([("calls", tooMany)]))
        #expect(oversized.status == 400)

        // 40 telephony requests a second pass, the 41st is refused; other methods allow 10.
        let event = FormURLEncoding.encode([("event", #"{"phone":"+1","type":"in","callExternalId":"1"}"#)])
        var statuses: [Int] = []
        for _ in 0..<41 {
            statuses.append(await emulator.handle(method: "POST", path: "/api/v5/telephony/call/event", query: [], headers: form, body: event).status)
        }
        // Three telephony requests were made above: 37 more fit in the second, the last 4 are refused.
        #expect(statuses.prefix(37).allSatisfy { $0 == 200 } && statuses.suffix(4).allSatisfy { $0 == 503 }, "\(statuses)")
        var general: [Int] = []
        for _ in 0..<11 {
            general.append(await emulator.handle(method: "GET", path: "/api/v5/users", query: [], headers: form, body: "").status)
        }
        #expect(general.filter { $0 == 200 }.count == 10 && general.last == 503)
        now.withLock { $0 += 1.01 }
        #expect(await emulator.handle(method: "GET", path: "/api/v5/users", query: [], headers: form, body: "").status == 200)
    }

    @Test("form bodies round-trip any text, and garbage never crashes the decoder", arguments: 0..<3)
    func formEncoding(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed &+ 500)
        let alphabet = Array("aZ09 &=+%?#[]{}\"'/\\ЁжЖ😀\u{0}\r\n-._*~")
        for index in 0..<300 {
            if index % 50 == 0 { await Task.yield() }
            let pairs = (0..<Int(random.next() % 5)).map { _ in
                (String((0..<Int(random.next() % 12)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }),
                 String((0..<Int(random.next() % 40)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }))
            }
            let decoded = try FormURLEncoding.decode(FormURLEncoding.encode(pairs))
            #expect(decoded.map(\.0) == pairs.filter { !($0.0.isEmpty && $0.1.isEmpty) }.map(\.0) || pairs.contains { $0.0.isEmpty })
            if !pairs.contains(where: { $0.0.isEmpty && $0.1.isEmpty }) {
                #expect(decoded.elementsEqual(pairs) { $0.0 == $1.0 && $0.1 == $1.1 })
            }
            let garbage = String((0..<Int(random.next() % 30)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
            _ = try? FormURLEncoding.decode(garbage)
        }
        #expect(throws: SwitchboardError.self) { try FormURLEncoding.decode("a=%zz") }
        #expect(try FormURLEncoding.decode("event=%7B%22a%22%3A1%7D&x=a+b").map(\.1) == [#"{"a":1}"#, "a b"])
    }
}
