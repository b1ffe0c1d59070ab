import ArgumentParser
import Server

/// `switchboard` — the one binary: server, migrations, demo and admin commands.
@main
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Connects Asterisk and your apps to Bitrix24, amoCRM and RetailCRM; mirrors CRM data into SQL.",
        version: SwitchboardVersion.current,
        subcommands: [
            Serve.self, Worker.self, Demo.self, Migrate.self, TenantCommand.self, IntegrationCommand.self, UserCommand.self,
            CallsCommand.self, SyncCommand.self, DictionaryCommand.self, AskCommand.self, AuthCommand.self, OpenAPICommand.self, Bench.self,
        ])
}
