import ArgumentParser
import Foundation
import Server
import Storage
import SwitchboardCore

/// `switchboard integration set|enable|disable|show`.
struct IntegrationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integration", abstract: "Configure a tenant's CRM and PBX integrations.",
        subcommands: [Set.self, Enable.self, Disable.self, Show.self])

    struct Target: ParsableArguments {
        @Argument(help: "Tenant id or slug.") var tenant: String
        @Argument(help: "bitrix24, amocrm, retailcrm or asterisk.") var kind: String

        func resolvedKind() throws -> IntegrationKind {
            guard let kind = IntegrationKind(rawValue: kind) else {
                throw ValidationError("kind must be one of \(IntegrationKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return kind
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or change an integration.",
            discussion: """
                Settings are key=value; values that parse as JSON (numbers, true/false) keep their type.
                Secrets are stored encrypted; `--secret api_key=-` reads the value from standard input
                so it stays out of shell history.
                Example: switchboard integration set acme retailcrm --setting base_url=https://acme.retailcrm.ru --secret api_key=- --enable
                """)
        @OptionGroup var target: Target
        @Option(name: .customLong("setting"), help: "key=value (repeatable).") var settings: [String] = []
        @Option(name: .customLong("secret"), help: "name=value or name=- to read from stdin (repeatable).") var secrets: [String] = []
        @Flag(help: "Enable after saving.") var enable = false
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let kind = try target.resolvedKind()
            var settingsChange: [String: JSONValue] = [:]
            for pair in settings {
                let (key, value) = try split(pair, flag: "--setting")
                settingsChange[key] = (try? JSONDecoder().decode(JSONValue.self, from: Data(value.utf8))) ?? .string(value)
            }
            var secretsChange: [String: String?] = [:]
            for pair in secrets {
                var (key, value) = try split(pair, flag: "--secret")
                if value == "-" {
                    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                        throw ValidationError("expected the value of secret \(key) on standard input")
                    }
                    value = line
                }
                secretsChange[key] = value
            }
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let tenantKey = target.tenant
            let (settingsArg, secretsArg, enableArg) = (settingsChange, secretsChange, enable)
            let saved = try await runtime.withDatabase { database, secrets in
                let stores = Stores(database, secrets: secrets)
                let tenant = try await stores.tenants.require(tenantKey)
                let existing = try await stores.integrations.find(tenantID: tenant.id, kind: kind)
                let merged = (existing?.settings ?? [:]).merging(settingsArg, uniquingKeysWith: { _, new in new })
                return try await stores.integrations.save(
                    tenantID: tenant.id, kind: kind,
                    change: .init(enabled: enableArg ? true : nil, settings: merged, secrets: secretsArg))
            }
            IntegrationView(saved).printText()
        }

        private func split(_ pair: String, flag: String) throws -> (String, String) {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("\(flag) expects key=value, got '\(pair)'")
            }
            return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable an integration (fails naming what is missing).")
        @OptionGroup var target: Target
        @OptionGroup var storage: StorageOptions

        func run() async throws { try await toggle(target: target, storage: storage, enabled: true) }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an integration.")
        @OptionGroup var target: Target
        @OptionGroup var storage: StorageOptions

        func run() async throws { try await toggle(target: target, storage: storage, enabled: false) }
    }

    static func toggle(target: Target, storage: StorageOptions, enabled: Bool) async throws {
        let kind = try target.resolvedKind()
        let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
        let tenantKey = target.tenant
        let saved = try await runtime.withDatabase { database, secrets in
            let stores = Stores(database, secrets: secrets)
            let tenant = try await stores.tenants.require(tenantKey)
            return try await stores.integrations.setEnabled(tenantID: tenant.id, kind: kind, enabled)
        }
        IntegrationView(saved).printText()
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a tenant's integrations (secrets masked).")
        @Argument(help: "Tenant id or slug.") var tenant: String
        @Argument(help: "Only this kind.") var kind: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let (tenantKey, kindFilter) = (tenant, kind)
            let integrations = try await runtime.withDatabase { database, secrets in
                let stores = Stores(database, secrets: secrets)
                let tenant = try await stores.tenants.require(tenantKey)
                return try await stores.integrations.list(tenantID: tenant.id)
                    .filter { kindFilter == nil || $0.kind.rawValue == kindFilter }
            }
            if json {
                try Output.json(integrations.map { IntegrationView($0) })
            } else if integrations.isEmpty {
                print("no integrations")
            } else {
                integrations.forEach { IntegrationView($0).printText() }
            }
        }
    }
}
