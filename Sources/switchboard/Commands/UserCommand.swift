import ArgumentParser
import Foundation
import HummingbirdBcrypt
import Storage
import SwitchboardCore

/// `switchboard user create|list|disable|password` — admin users.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage admin users.", subcommands: [Create.self, List.self, Disable.self, Password.self])

    /// Reads a password from stdin, or generates one and prints it once.
    static func password(fromStdin: Bool) throws -> (String, generated: Bool) {
        if fromStdin {
            guard let line = readLine(strippingNewline: true) else { throw ValidationError("no password on standard input") }
            try AdminUser.validate(password: line)
            return (line, false)
        }
        return (Identifiers.randomToken(prefix: "", bytes: 15), true)
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an admin user.")
        @Option(help: "Login e-mail.") var email: String
        @Option(help: "super_admin or tenant_admin.") var role: String = "super_admin"
        @Option(help: "Tenant id or slug (tenant_admin only).") var tenant: String?
        @Flag(help: "Read the password from standard input instead of generating one.") var passwordStdin = false
        @Option(help: "bcrypt cost.") var bcryptCost: UInt8 = 12
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            guard let role = AdminRole(rawValue: role) else { throw ValidationError("--role must be super_admin or tenant_admin") }
            try AdminUser.validate(email: email)
            let (password, generated) = try UserCommand.password(fromStdin: passwordStdin)
            let hash = Bcrypt.hash(password, cost: bcryptCost)
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let (email, tenantKey) = (email, tenant)
            let user = try await runtime.withDatabase { database, secrets in
                let stores = Stores(database, secrets: secrets)
                var tenantID: String?
                if let tenantKey {
                    let tenant = try await stores.tenants.require(tenantKey)
                    tenantID = tenant.id
                }
                return try await stores.users.create(email: email, role: role, tenantID: tenantID, passwordHash: hash)
            }
            print("created \(user.role.rawValue) \(user.email) (\(user.id))")
            if generated { print("password (shown only now): \(password)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List admin users.")
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let users = try await runtime.withDatabase { database, _ in try await AdminUserRepository(database).list() }
            Output.table(
                users.map { [$0.email, $0.role.rawValue, $0.tenantID ?? "-", $0.disabledAt == nil ? "active" : "disabled"] },
                header: ["EMAIL", "ROLE", "TENANT", "STATE"])
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user; their tokens stop working.")
        @Argument(help: "E-mail.") var email: String
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let email = email
            try await runtime.withDatabase { database, _ in
                let users = AdminUserRepository(database)
                guard let user = try await users.find(email: email) else { throw SwitchboardError.notFound("user '\(email)'") }
                try await users.setDisabled(id: user.id, true)
            }
            print("disabled \(email)")
        }
    }

    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password (generated unless --password-stdin).")
        @Argument(help: "E-mail.") var email: String
        @Flag(help: "Read the password from standard input.") var passwordStdin = false
        @Option(help: "bcrypt cost.") var bcryptCost: UInt8 = 12
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let (password, generated) = try UserCommand.password(fromStdin: passwordStdin)
            let hash = Bcrypt.hash(password, cost: bcryptCost)
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let email = email
            try await runtime.withDatabase { database, _ in
                let users = AdminUserRepository(database)
                guard let user = try await users.find(email: email) else { throw SwitchboardError.notFound("user '\(email)'") }
                try await users.setPasswordHash(id: user.id, hash: hash)
            }
            print(generated ? "new password for \(email) (shown only now): \(password)" : "password changed for \(email)")
        }
    }
}
