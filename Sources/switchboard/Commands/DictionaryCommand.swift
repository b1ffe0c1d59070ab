import Analytics
import ArgumentParser
import Foundation
import Mirror
import Storage
import SwitchboardCore

/// `switchboard dictionary TENANT [--format md|json]`: the data dictionary of a tenant's mirror.
struct DictionaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dictionary", abstract: "Print the data dictionary of a tenant's CRM mirror (Markdown or JSON).")
    @Argument(help: "Tenant slug or id.") var tenant: String
    @Option(help: "md or json.") var format = "md"
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        guard ["md", "json"].contains(format) else { throw ValidationError("--format must be md or json") }
        let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
        let key = tenant
        let dictionary = try await runtime.withDatabase { database, secrets in
            let stores = Stores(database, secrets: secrets)
            let tenant = try await stores.tenants.require(key)
            return try await MirrorDatabase.with(tenantID: tenant.id, main: database, integrations: stores.integrations) { mirror in
                try await DataDictionary.build(mirror)
            }
        }
        if format == "json" { try Output.json(dictionary) } else { print(dictionary.markdown) }
    }
}
