import ArgumentParser
import Server

/// `switchboard openapi` — print the OpenAPI document served at `/openapi.json`.
struct OpenAPICommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "openapi", abstract: "Print the OpenAPI document.")

    func run() {
        print(String(decoding: OpenAPIDocument.json, as: UTF8.self))
    }
}
