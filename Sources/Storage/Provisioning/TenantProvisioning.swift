import Foundation
import SwitchboardCore

/// Creating a tenant is one transaction: the tenant row, its PBX token and its first API token
/// appear together or not at all. Shared by the API and the CLI.
public enum TenantProvisioning {
    public struct Created: Sendable {
        public var tenant: Tenant
        public var pbxToken: String
        public var apiToken: APIToken
        public var apiTokenPlaintext: String
    }

    public static func create(
        database: Database, secrets: SecretBox, slug: String, name: String, defaultCountry: String = "RU",
        timeZone: String = "Europe/Moscow"
    ) async throws -> Created {
        try await database.transaction { tx in
            let stores = Stores(tx, secrets: secrets)
            let (tenant, pbxToken) = try await stores.tenants.create(
                slug: slug, name: name, defaultCountry: defaultCountry, timeZone: timeZone)
            let (token, plaintext) = try await stores.apiTokens.issue(tenantID: tenant.id, name: "default", scope: .write)
            return Created(tenant: tenant, pbxToken: pbxToken, apiToken: token, apiTokenPlaintext: plaintext)
        }
    }
}
