import Foundation
import Storage

/// Starts one throwaway PostgreSQL cluster per test process (initdb + pg_ctl on a temp dir and a free
/// loopback port) and hands each test its own fresh database. Never a mock: the real server.
actor PostgresHarness {
    static let shared = PostgresHarness()

    /// The directory holding `initdb`, `pg_ctl` and `psql` (Debian keeps them off PATH), if installed.
    static let binDirectory: String? = {
        if let configured = ProcessInfo.processInfo.environment["SWITCHBOARD_PG_BIN"] { return configured }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        return versions.map { "\(root)/\($0)/bin" }.first { FileManager.default.fileExists(atPath: "\($0)/initdb") }
    }()

    /// PostgreSQL tests are required (and so fail rather than skip) under CI or when asked for.
    static let isRequired: Bool = {
        let env = ProcessInfo.processInfo.environment
        return env["CI"] == "true" || env["SWITCHBOARD_TEST_POSTGRES"] == "1"
    }()

    /// `SWITCHBOARD_TEST_POSTGRES=0` turns the PostgreSQL runs off locally (never under CI).
    static var isAvailable: Bool {
        binDirectory != nil && (ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES"] != "0" || isRequired)
    }

    /// The one cluster start: actor methods interleave at `await`, so every caller awaits the same task.
    private var starting: Task<PostgresURL, any Error>?
    private var counter = 0

    /// A URL to a brand-new empty database on the shared cluster.
    func freshDatabase() async throws -> PostgresURL {
        if starting == nil { starting = Task { try await Self.start() } }
        let server = try await starting!.value
        counter += 1
        let name = "t\(ProcessInfo.processInfo.processIdentifier)_\(counter)_\(Int.random(in: 1000...9999))"
        try await Self.runPostgresTool(
            "psql", ["-h", "127.0.0.1", "-p", "\(server.port)", "-U", "postgres", "-q", "-c", "CREATE DATABASE \(name)"])
        return server.with(database: name)
    }

    private static func start() async throws -> PostgresURL {
        guard Self.binDirectory != nil else {
            throw HarnessError("PostgreSQL is not installed (apt-get install postgresql); required because CI=true")
        }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("switchboard-pg-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 { try await Self.run("/bin/chown", ["postgres:postgres", directory]) }
        let port = try Self.freePort()
        try await Self.runPostgresTool(
            "initdb", ["-D", "\(directory)/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"])
        try await Self.runPostgresTool(
            "pg_ctl",
            [
                "-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "-t", "60", "-o",
                "-c listen_addresses=127.0.0.1 -p \(port) -k \(directory) -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                "start",
            ])
        HarnessCleanup.register(dataDirectory: "\(directory)/data", root: directory)
        let url = PostgresURL(host: "127.0.0.1", port: port, username: "postgres", password: nil, database: "postgres")
        return url
    }

    /// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb refuses root).
    static func runPostgresTool(_ tool: String, _ arguments: [String]) async throws {
        guard let bin = binDirectory else { throw HarnessError("PostgreSQL binaries not found") }
        if getuid() == 0 {
            try await run("/usr/sbin/runuser", ["-u", "postgres", "--", "\(bin)/\(tool)"] + arguments)
        } else {
            try await run("\(bin)/\(tool)", arguments)
        }
    }

    /// Runs a program to completion; throws with its output when it fails.
    static func run(_ executable: String, _ arguments: [String]) async throws {
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("pg-tool-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        let status = await Subprocess.waitOffPool(try Subprocess.spawn(executable, arguments, stdoutPath: logPath))
        guard status == 0 else {
            let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw HarnessError("\(executable) \(arguments.joined(separator: " ")) failed (\(status)): \(output)")
        }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw HarnessError("cannot bind a loopback port") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Stops the cluster when the test process exits.
enum HarnessCleanup {
    nonisolated(unsafe) private static var dataDirectory: String?
    nonisolated(unsafe) private static var root: String?

    static func register(dataDirectory: String, root: String) {
        self.dataDirectory = dataDirectory
        self.root = root
        atexit {
            if let data = HarnessCleanup.dataDirectory {
                // At exit nothing else runs: blocking here is fine.
                let stop = ["-u", "postgres", "--", "\(PostgresHarness.binDirectory ?? "")/pg_ctl", "-D", data, "-m", "immediate", "stop"]
                if let pid = try? Subprocess.spawn(getuid() == 0 ? "/usr/sbin/runuser" : "\(PostgresHarness.binDirectory ?? "")/pg_ctl",
                                                   getuid() == 0 ? stop : Array(stop.dropFirst(3)), stdoutPath: "/dev/null") {
                    Subprocess.wait(pid)
                }
            }
            if let root = HarnessCleanup.root { try? FileManager.default.removeItem(atPath: root) }
        }
    }
}
