import ArgumentParser
import Bitrix24
import Foundation
import Jobs
import Logging
import Mirror
import Sandbox
import Storage
import SwitchboardCore

/// `bench sync`: a Bitrix24 portal of N deals (the Sandbox emulator, with the real limit of 2 requests/s,
/// burst 50) mirrored the fast way (batches of `start=-1` keyset pages) and the seed's way (one counted
/// page of 50 per request), then upserts compared with a plain INSERT of the same rows.
struct BenchSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Mirror sync speed against the emulated Bitrix24 (real rate limit), the seed's method, and upsert vs plain INSERT.",
        discussion: "SQLite in a temp directory unless --database-url names a PostgreSQL database.")

    @Option(help: "PostgreSQL URL; SQLite when absent.") var databaseURL: String?
    @Option(help: "Deals in the emulated portal.") var deals = 100_000
    @Option(help: "Pages the seed's method reads (0: all); the rest is extrapolated at the rate limit.") var seedPages = 120
    @Option(help: "Rows in the upsert-vs-INSERT comparison.") var upsertRows = 20_000

    func run() async throws {
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .error; return logger }()
        let location = try DatabaseLocation.resolve(
            databaseURL: databaseURL,
            dataDir: FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(UUID().uuidString)").path)
        let (deals, seedPages, upsertRows) = (deals, seedPages, upsertRows)
        print("backend: \(location.backend.rawValue)  deals: \(deals)  portal limit: 2 requests/s, burst 50 (Bitrix24 Sandbox emulator)")
        try await Database.withDatabase(location, logger: logger) { database in
            try await Migrator().migrate(database, logger: logger)
            let secrets = try SecretBox(key: Array(repeating: 1, count: 32))
            let integrations = IntegrationRepository(database, secrets: secrets)
            let suffix = UUID().uuidString.prefix(6).lowercased()
            let fast = try await TenantProvisioning.create(database: database, secrets: secrets, slug: "bench-fast-\(suffix)", name: "fast")
            let seed = try await TenantProvisioning.create(database: database, secrets: secrets, slug: "bench-seed-\(suffix)", name: "seed")

            // 1. Our way: MirrorSync (batch × start=-1), paced by our own limiter as in production.
            let fastPortal = Bitrix24Emulator(deals: deals, seed: 1)
            let fastResult = try await SandboxServer.withBitrix24(fastPortal) { base in
                try await MirrorDatabase.with(tenantID: fast.tenant.id, main: database, integrations: integrations) { mirror in
                    let sync = MirrorSync(
                        source: Bitrix24MirrorSource(client: Self.client(base)), mirror: mirror, states: SyncStateRepository(database),
                        tenantID: fast.tenant.id, logger: logger)
                    let started = ContinuousClock.now
                    let outcome = try await sync.run(try sync.entity(named: "deal"), mode: .full)
                    return (outcome.rowsInMirror, ContinuousClock.now - started)
                }
            }
            let fastRequests = await fastPortal.requestCount
            let fastFloor = Self.floor(requests: fastRequests)
            print(
                "fast path: \(fastResult.0) deals in \(Self.seconds(fastResult.1)) s (\(Self.rate(Int(fastResult.0), fastResult.1)) rows/s), "
                    + "\(fastRequests) requests, \(await fastPortal.rejectedCount) refused; limit floor \(String(format: "%.1f", fastFloor)) s")

            // 2. The seed's way: crm.deal.list with start = 0, 50, 100… one request per page, each row upserted.
            let seedPortal = Bitrix24Emulator(deals: deals, seed: 1)
            let totalPages = (deals + 49) / 50
            let pages = seedPages <= 0 ? totalPages : min(seedPages, totalPages)
            let seedTime = try await SandboxServer.withBitrix24(seedPortal) { base in
                try await MirrorDatabase.with(tenantID: seed.tenant.id, main: database, integrations: integrations) { mirror in
                    let client = Self.client(base)
                    let source = Bitrix24MirrorSource(client: client)
                    let entity = MirrorSources.entities["bitrix24"]!.first { $0.name == "deal" }!
                    let (columns, _) = try await MirrorSchema(mirror: mirror, crm: "bitrix24").ensure(entity, fields: try await source.fields(entity))
                    let writer = MirrorWriter(mirror: mirror, crm: "bitrix24")
                    let started = ContinuousClock.now
                    for page in 0..<pages {
                        let answer = try await client.call(
                            "crm.deal.list", ["order": ["ID": "ASC"], "select": ["*", "UF_*"], "start": .number(Double(page * 50))])
                        let records = (answer.result.arrayValue ?? []).compactMap { row -> CRMRecord? in
                            guard let object = row.objectValue, let id = object["ID"]?.intValue else { return nil }
                            return CRMRecord(id: Int64(id), values: object, modifiedAt: object["DATE_MODIFY"]?.stringValue.flatMap(Bitrix24Dates.parse))
                        }
                        for record in records {
                            try await writer.upsert(entity, columns: columns, records: [record], multiValues: nil, syncedAt: .storageNow)
                        }
                    }
                    return ContinuousClock.now - started
                }
            }
            let seedRequests = await seedPortal.requestCount
            var seedTotal = seedTime.inSeconds
            if pages < totalPages {
                // Past the burst every request waits for the bucket: 0.5 s a page, or slower if our side is.
                let perPage = max(0.5, seedTotal / Double(pages))
                seedTotal += Double(totalPages - pages) * perPage
            }
            print(
                "seed method: \(pages) of \(totalPages) pages in \(Self.seconds(seedTime)) s (\(seedRequests) requests)"
                    + (pages < totalPages ? "; all \(totalPages) pages ≈ \(String(format: "%.0f", seedTotal)) s at the rate limit (extrapolated)" : ""))
            let fastSeconds = fastResult.1.inSeconds
            print("fast path vs seed method: \(String(format: "%.1f", seedTotal / max(fastSeconds, 0.001)))× faster")

            // 3. Upsert vs a plain write of the same rows (no conflict clause, no key) into the same columns:
            // a multi-row INSERT on SQLite, COPY on PostgreSQL (what the writer itself uses there).
            let rowsPortal = Bitrix24Emulator(deals: upsertRows, seed: 2, burst: 1_000_000)
            try await SandboxServer.withBitrix24(rowsPortal) { base in
                try await MirrorDatabase.with(tenantID: seed.tenant.id, main: database, integrations: integrations) { mirror in
                    let source = Bitrix24MirrorSource(client: Bitrix24Client(endpoint: .webhook(url: "\(base)/rest/1/sandboxwebhookcode/")))
                    let entity = MirrorEntity(name: "deal", table: "bench_upsert_deals", incremental: true)
                    let fields = try await source.fields(MirrorSources.entities["bitrix24"]!.first { $0.name == "deal" }!)
                    var records: [CRMRecord] = []
                    var after: Int64?
                    var previous = 0
                    while true {
                        let page = try await source.page(MirrorSources.entities["bitrix24"]!.first { $0.name == "deal" }!, afterID: after, modifiedSince: nil, previousCount: previous)
                        records += page.records
                        previous = page.records.count
                        after = page.records.last?.id ?? after
                        if page.isLast { break }
                    }
                    let (columns, _) = try await MirrorSchema(mirror: mirror, crm: "bitrix24").ensure(entity, fields: fields)
                    let writer = MirrorWriter(mirror: mirror, crm: "bitrix24")
                    try await mirror.database.run { sql in
                        try await sql.raw("CREATE TABLE \(unsafeRaw: mirror.table("bench_plain_deals")) AS SELECT * FROM \(unsafeRaw: mirror.table(entity.table)) WHERE 1 = 0").run()
                    }
                    func timed(_ body: () async throws -> Void) async throws -> Duration {
                        let started = ContinuousClock.now
                        try await body()
                        return ContinuousClock.now - started
                    }
                    let pages = records.chunked(into: 2_500).map(Array.init)
                    let plain = try await timed { for page in pages { try await writer.insertPlain(into: "bench_plain_deals", columns: columns, records: page, syncedAt: .storageNow) } }
                    let inserted = try await timed { for page in pages { try await writer.upsert(entity, columns: columns, records: page, multiValues: nil, syncedAt: .storageNow) } }
                    let updated = try await timed { for page in pages { try await writer.upsert(entity, columns: columns, records: page, multiValues: nil, syncedAt: .storageNow) } }
                    let plainRate = Self.rate(records.count, plain)
                    print("plain \(database.backend == .postgres ? "COPY" : "INSERT"): \(records.count) rows in \(Self.seconds(plain)) s (\(plainRate) rows/s)")
                    for (label, duration) in [("upsert (new rows)", inserted), ("upsert (existing rows)", updated)] {
                        let rate = Self.rate(records.count, duration)
                        print("\(label): \(Self.seconds(duration)) s (\(rate) rows/s, \(plainRate > 0 ? rate * 100 / plainRate : 0) % of plain)")
                    }
                }
            }
        }
    }

    static func client(_ base: String) -> Bitrix24Client {
        let limiter = RateLimiter()
        return Bitrix24Client(
            endpoint: .webhook(url: "\(base)/rest/1/sandboxwebhookcode/"),
            beforeRequest: { try await limiter.acquire("bench", limit: .bitrix24) })
    }

    /// The least time `requests` can take under a 2/s bucket with a burst of 50.
    static func floor(requests: Int) -> Double { Double(max(0, requests - 50)) / 2 }

    static func seconds(_ duration: Duration) -> String { String(format: "%.2f", duration.inSeconds) }

    static func rate(_ rows: Int, _ duration: Duration) -> Int {
        duration.inSeconds > 0 ? Int(Double(rows) / duration.inSeconds) : 0
    }
}
