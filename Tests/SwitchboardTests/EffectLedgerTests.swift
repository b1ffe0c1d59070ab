import Foundation
import Jobs
import Storage
import SwitchboardCore
import Synchronization
import Testing

@Suite("Effect ledger and failure classification")
struct EffectLedgerTests {
    @Test("an effect runs once per key; a rerun of the job gets the recorded result", arguments: TestBackend.all)
    func once(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let tenant = try await Stores(database, secrets: TestSupport.secrets).tenants.create(slug: "fx", name: "FX").tenant
            let other = try await Stores(database, secrets: TestSupport.secrets).tenants.create(slug: "fy", name: "FY").tenant
            let ledger = EffectLedger(database)
            let calls = Mutex(0)
            let effect: @Sendable () async throws -> JSONValue = {
                ["crm_id": .number(Double(calls.withLock { $0 += 1; return $0 }))]
            }
            let first = try await ledger.once(tenantID: tenant.id, key: "retailcrm:call:1:hangup", kind: "retailcrm.upload", perform: effect)
            #expect(first == .init(result: ["crm_id": 1], replayed: false))
            // The job runs again (retry, expired lease): the effect is not repeated.
            let again = try await ledger.once(tenantID: tenant.id, key: "retailcrm:call:1:hangup", kind: "retailcrm.upload", perform: effect)
            #expect(again == .init(result: ["crm_id": 1], replayed: true))
            #expect(calls.withLock { $0 } == 1)
            // Keys are per tenant; a failed effect records nothing and can be tried again.
            _ = try await ledger.once(tenantID: other.id, key: "retailcrm:call:1:hangup", kind: "retailcrm.upload", perform: effect)
            await #expect(throws: JobFailure.self) {
                try await ledger.once(tenantID: tenant.id, key: "retailcrm:call:2:hangup", kind: "x") { throw JobFailure.retryable("503") }
            }
            #expect(try await ledger.find(tenantID: tenant.id, key: "retailcrm:call:2:hangup") == nil)
            #expect(try await ledger.count(tenantID: tenant.id, prefix: "retailcrm:call:") == 1)
            #expect(try await ledger.count(tenantID: tenant.id, prefix: "retailcrm_call") == 0, "_ is not a wildcard")

            // Eight concurrent runs of one effect key: one record, every caller sees the same result.
            let outcomes = try await withThrowingTaskGroup(of: EffectLedger.Outcome.self) { group in
                for _ in 0..<8 {
                    let tenantID = tenant.id
                    group.addTask { try await ledger.once(tenantID: tenantID, key: "race", kind: "x", perform: effect) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let stored = try #require(try await ledger.find(tenantID: tenant.id, key: "race"))
            #expect(outcomes.filter(\.replayed).allSatisfy { $0.result == stored })
            #expect(try await ledger.count(tenantID: tenant.id, prefix: "race") == 1)
            #expect(try await ledger.prune(recordedBefore: Date().addingTimeInterval(60)) == 3)
        }
    }

    @Test(
        "CRM answers are classified as retryable or permanent",
        arguments: [
            (429, "Too Many Requests", true), (503, "Service Unavailable", true), (500, "oops", true), (408, "timeout", true),
            (400, "Errors in the entity format", false), (404, "Not found", false), (401, "Wrong apiKey value", false),
            (403, "QUERY_LIMIT_EXCEEDED: Too many requests", true), (400, "API method limit exceeded", true),
        ])
    func classify(status: Int, message: String, retryable: Bool) {
        let failure = JobFailure.http(status: status, message: message, retryAfter: .seconds(2))
        if case .retryable(_, let after) = failure {
            #expect(retryable && after == .seconds(2))
        } else {
            #expect(!retryable)
        }
        #expect(failure.message.contains(message))
        #expect(JobFailure.retryAfter(header: " 7 ") == .seconds(7))
        #expect(JobFailure.retryAfter(header: "Wed, 21 Oct 2015 07:28:00 GMT") == nil)
    }
}
