import ArgumentParser
import Foundation
import Server
import Storage
import SwitchboardCore

/// `switchboard tenant create|list|show|token|pbx-token`.
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Create and inspect tenants.",
        subcommands: [Create.self, List.self, Show.self, Token.self, PBXToken.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant with its PBX token and a first API token (shown once).")

        @Argument(help: "Slug: 2–63 of a-z, 0-9, '-'.") var slug: String
        @Option(help: "Display name (default: the slug).") var name: String?
        @Option(help: "Default country for phone numbers (ISO code).") var country = "RU"
        @Option(help: "IANA time zone.") var timeZone = "Europe/Moscow"
        @Flag(help: "Print {\"id\",\"slug\",\"pbx_token\",\"api_token\"} for scripts.") var json = false
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let (slug, name, country, timeZone) = (slug, name ?? slug, country, timeZone)
            let created = try await runtime.withDatabase { database, secrets in
                try await TenantProvisioning.create(
                    database: database, secrets: secrets, slug: slug, name: name, defaultCountry: country,
                    timeZone: timeZone)
            }
            if json {
                try Output.json([
                    "id": created.tenant.id, "slug": created.tenant.slug, "pbx_token": created.pbxToken,
                    "api_token": created.apiTokenPlaintext,
                ])
            } else {
                print("created tenant \(created.tenant.slug) (\(created.tenant.id))")
                print("PBX token (put it in the dialplan's Token field): \(created.pbxToken)")
                print("API token (write scope; shown only now):          \(created.apiTokenPlaintext)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let tenants = try await runtime.withDatabase { database, secrets in
                try await Stores(database, secrets: secrets).tenants.list()
            }
            if json {
                try Output.json(tenants)
            } else {
                Output.table(tenants.map { [$0.slug, $0.name, $0.id, $0.defaultCountry, $0.timeZone] },
                    header: ["SLUG", "NAME", "ID", "COUNTRY", "TIME ZONE"])
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a tenant and its integrations (secrets masked).")
        @Argument(help: "Tenant id or slug.") var tenant: String
        @Flag(help: "Also print the full PBX token.") var revealPBXToken = false
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let (key, reveal) = (tenant, revealPBXToken)
            let (found, integrations, pbx) = try await runtime.withDatabase { database, secrets in
                let stores = Stores(database, secrets: secrets)
                let tenant = try await stores.tenants.require(key)
                let pbx = reveal ? try await stores.tenants.pbxToken(id: tenant.id) : nil
                return (tenant, try await stores.integrations.list(tenantID: tenant.id), pbx)
            }
            if json {
                struct Shown: Encodable {
                    var tenant: Tenant
                    var integrations: [String: IntegrationView]
                    var pbxToken: String?
                }
                try Output.json(
                    Shown(
                        tenant: found,
                        integrations: Dictionary(uniqueKeysWithValues: integrations.map { ($0.kind.rawValue, IntegrationView($0)) }),
                        pbxToken: pbx))
                return
            }
            print("\(found.slug) — \(found.name)\n  id: \(found.id)\n  country: \(found.defaultCountry), time zone: \(found.timeZone)")
            if let pbx { print("  PBX token: \(pbx)") }
            for integration in integrations { IntegrationView(integration).printText() }
            if integrations.isEmpty { print("  no integrations yet (switchboard integration set \(found.slug) <kind> …)") }
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a tenant API token (shown once).")
        @Argument(help: "Tenant id or slug.") var tenant: String
        @Option(help: "A name to recognise the token by.") var name = "cli"
        @Option(help: "read or write.") var scope: String = "write"
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            guard let scope = TokenScope(rawValue: scope) else {
                throw ValidationError("--scope must be read or write")
            }
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let (key, name) = (tenant, name)
            let (token, plaintext) = try await runtime.withDatabase { database, secrets in
                let stores = Stores(database, secrets: secrets)
                let tenant = try await stores.tenants.require(key)
                return try await stores.apiTokens.issue(tenantID: tenant.id, name: name, scope: scope)
            }
            if json {
                try Output.json(["id": token.id, "token": plaintext, "scope": token.scope.rawValue])
            } else {
                print(plaintext)
            }
        }
    }

    struct PBXToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pbx-token", abstract: "Print, or with --rotate replace, the tenant's PBX token.")
        @Argument(help: "Tenant id or slug.") var tenant: String
        @Flag(help: "Issue a new token; the old one stops working at once.") var rotate = false
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let (key, rotate) = (tenant, rotate)
            let token = try await runtime.withDatabase { database, secrets in
                let stores = Stores(database, secrets: secrets)
                let tenant = try await stores.tenants.require(key)
                return rotate ? try await stores.tenants.rotatePBXToken(id: tenant.id) : try await stores.tenants.pbxToken(id: tenant.id)
            }
            print(token)
        }
    }
}

extension IntegrationView {
    /// Prints the integration for people, secrets masked.
    func printText() {
        print("  \(kind): \(enabled ? "enabled" : "disabled")")
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) {
            let text = (try? String(decoding: JSONEncoder().encode(value), as: UTF8.self)) ?? "?"
            print("    \(key) = \(text)")
        }
        for (key, value) in secrets.sorted(by: { $0.key < $1.key }) { print("    \(key) = \(value) (secret)") }
        if !missing.isEmpty { print("    missing: \(missing.joined(separator: ", "))") }
    }
}
