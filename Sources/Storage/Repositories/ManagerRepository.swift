import Foundation
import SQLKit
import SwitchboardCore

/// A CRM user mapped to a PBX extension, per tenant and CRM integration.
public struct ManagerExtension: Sendable, Equatable, Codable {
    public var crmUserID: String
    public var extensionNumber: String
    public var crmUserName: String?

    public init(crmUserID: String, extensionNumber: String, crmUserName: String? = nil) {
        self.crmUserID = crmUserID
        self.extensionNumber = extensionNumber
        self.crmUserName = crmUserName
    }
}

/// Managers ↔ extensions: unique in both directions within a tenant's integration.
public struct ManagerRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) {
        self.runner = runner
    }

    public func list(tenantID: String, integration: IntegrationKind) async throws -> [ManagerExtension] {
        try await runner.run { sql in
            try await sql.raw(
                """
                SELECT * FROM manager_extensions WHERE tenant_id = \(bind: tenantID) AND integration = \(bind: integration.rawValue)
                ORDER BY extension
                """
            ).all()
        }.map {
            ManagerExtension(
                crmUserID: try $0.decode(column: "crm_user_id", as: String.self), extensionNumber: try $0.decode(column: "extension", as: String.self),
                crmUserName: try $0.decode(column: "crm_user_name", as: String?.self))
        }
    }

    /// Replaces the whole mapping. Two users on one extension, or one user on two, is a conflict naming both.
    public func replace(tenantID: String, integration: IntegrationKind, with mapping: [ManagerExtension]) async throws {
        var byExtension: [String: String] = [:]
        var byUser: Set<String> = []
        for entry in mapping {
            guard !entry.crmUserID.isEmpty else { throw SwitchboardError.invalid("crm_user_id", "crm_user_id must not be empty") }
            guard PhoneNumber.isExtensionCode(entry.extensionNumber) else {
                throw SwitchboardError.invalid("extension", "extension '\(entry.extensionNumber)' must be 1–20 digits")
            }
            if let other = byExtension[entry.extensionNumber] {
                throw SwitchboardError.conflict(
                    "extension \(entry.extensionNumber) is given to both user \(other) and user \(entry.crmUserID)", field: "extension")
            }
            guard byUser.insert(entry.crmUserID).inserted else {
                throw SwitchboardError.conflict("user \(entry.crmUserID) is given two extensions", field: "crm_user_id")
            }
            byExtension[entry.extensionNumber] = entry.crmUserID
        }
        let now = Date.storageNow
        // All or nothing: a crash between the DELETE and the INSERTs must not leave the tenant without a mapping.
        if let database = runner as? Database {
            try await database.transaction { tx in try await Self.write(mapping, tenantID: tenantID, integration: integration, at: now, on: tx) }
        } else {
            try await Self.write(mapping, tenantID: tenantID, integration: integration, at: now, on: runner)
        }
        try await ConfigChanges.announce(on: runner)  // routes cached in other instances name extensions
    }

    private static func write(
        _ mapping: [ManagerExtension], tenantID: String, integration: IntegrationKind, at now: Date, on runner: any SQLRunner
    ) async throws {
        try await runner.run { sql in
            try await sql.raw(
                "DELETE FROM manager_extensions WHERE tenant_id = \(bind: tenantID) AND integration = \(bind: integration.rawValue)"
            ).run()
            for entry in mapping {
                try await sql.raw(
                    """
                    INSERT INTO manager_extensions (tenant_id, integration, crm_user_id, extension, crm_user_name, updated_at)
                    VALUES (\(bind: tenantID), \(bind: integration.rawValue), \(bind: entry.crmUserID), \(bind: entry.extensionNumber),
                        \(bind: entry.crmUserName), \(bind: now))
                    """
                ).run()
            }
        }
    }
}
