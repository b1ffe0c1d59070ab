import Analytics
import Foundation
import Hummingbird
import Mirror
import NIOCore
import Storage
import SwitchboardCore

/// `GET /api/v1/tenants/{tenant}/schema.md` and `schema.json`: the data dictionary of the tenant's mirror
/// (seed 001's "endpoint that describes every DB field in Markdown"); `POST …/query` `{sql, limit?}`: one
/// read-only SELECT over the mirror behind ``MirrorQuery``'s guards. Questions and charts: ``ChartController``.
struct DictionaryController {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        tenant.get("schema.md", use: markdown)
        tenant.get("schema.json", use: json)
        tenant.post("query", use: query)
    }

    struct QueryBody: StrictBody {
        var sql: String
        var limit: Int?
        enum CodingKeys: String, CodingKey, CaseIterable { case sql, limit }
    }

    @Sendable func query(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let body = try await request.decodeJSON(QueryBody.self, limit: 64 * 1024)
        if let limit = body.limit, !(1...50_000).contains(limit) { throw SwitchboardError.invalid("limit", "limit must be 1–50000") }
        let result = try await MirrorQuery.run(
            body.sql, tenantID: tenant.id, main: services.database, integrations: services.stores.integrations,
            rowLimit: body.limit ?? MirrorQuery.defaultRowLimit, logger: context.logger)
        return try JSONResponse.make(result)
    }

    private func dictionary(_ context: AppRequestContext) async throws -> DataDictionary {
        let tenant = try context.requireTenant()
        return try await MirrorDatabase.with(tenantID: tenant.id, main: services.database, integrations: services.stores.integrations) { mirror in
            try await DataDictionary.build(mirror)
        }
    }

    @Sendable func markdown(_ request: Request, context: AppRequestContext) async throws -> Response {
        let text = try await dictionary(context).markdown
        return Response(status: .ok, headers: [.contentType: "text/markdown; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    @Sendable func json(_ request: Request, context: AppRequestContext) async throws -> Response {
        try JSONResponse.make(try await dictionary(context))
    }
}
