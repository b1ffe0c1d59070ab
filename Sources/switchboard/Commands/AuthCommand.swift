import ArgumentParser
import Server
import Storage
import SwitchboardCore

/// `switchboard auth keys|rotate-key|retire-key` — the keys that sign admin JWTs.
struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth", abstract: "Manage admin JWT signing keys.", subcommands: [Keys.self, RotateKey.self, RetireKey.self])

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List signing keys (never their material).")
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let keys = try await runtime.withDatabase { database, secrets in
                try await SigningKeyRepository(database, secrets: secrets).all()
            }
            let current = keys.first(where: { $0.retiredAt == nil })?.kid
            Output.table(
                keys.map { [$0.kid, $0.algorithm.rawValue, $0.kid == current ? "signing" : ($0.retiredAt == nil ? "verifying" : "retired")] },
                header: ["KID", "ALGORITHM", "STATE"])
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new signing key; older keys keep verifying until retired.")
        @Option(help: "HS256, EdDSA or ES256.") var algorithm: String = "EdDSA"
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            guard let algorithm = SigningKey.Algorithm(rawValue: algorithm) else {
                throw ValidationError("--algorithm must be HS256, EdDSA or ES256")
            }
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let key = AdminTokenService.generateKey(algorithm)
            try await runtime.withDatabase { database, secrets in
                try await SigningKeyRepository(database, secrets: secrets).add(key)
            }
            print("new signing key \(key.kid) (\(algorithm.rawValue)); running servers pick it up on its first use")
        }
    }

    struct RetireKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retire a key: tokens it signed stop verifying.")
        @Argument(help: "The key id.") var kid: String
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let kid = kid
            try await runtime.withDatabase { database, secrets in
                try await SigningKeyRepository(database, secrets: secrets).retire(kid: kid)
            }
            print("retired \(kid); running servers stop accepting its tokens within a minute")
        }
    }
}
