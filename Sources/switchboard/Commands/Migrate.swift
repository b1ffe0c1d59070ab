import ArgumentParser
import Storage

/// `switchboard migrate` — apply pending schema migrations and report the version.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations.")

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let runtime = try await Runtime.make(storage: storage)
        let location = runtime.location
        let versions = try await runtime.withDatabase { database, _ in try await Migrator().appliedVersions(database) }
        print("database \(location) is at schema version \(versions.last ?? 0) (\(versions.count) migrations applied)")
    }
}
