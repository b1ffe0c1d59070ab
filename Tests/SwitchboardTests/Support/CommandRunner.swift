import Foundation

/// Runs the real `switchboard` binary that `swift test` built next to the test bundle.
enum CommandRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var binary: String {
        let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return directory.appendingPathComponent("switchboard").path
    }

    /// The environment for the binary: ours, without a DATABASE_URL that would redirect it.
    private static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = nil
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    /// Starts `switchboard arguments…` in the background with output to `logPath`; returns its pid.
    static func start(_ arguments: [String], logPath: String, environment extra: [String: String] = [:]) throws -> pid_t {
        try Subprocess.spawn(binary, arguments, stdoutPath: logPath, environment: environment(extra))
    }

    /// Sends `signal` and reaps the process.
    static func stop(_ pid: pid_t, signal: Int32) async {
        kill(pid, signal)
        _ = await Subprocess.waitOffPool(pid)
    }

    /// Runs `switchboard arguments…` with `stdin` and extra environment; output is captured via files.
    static func run(_ arguments: [String], stdin: String = "", environment extra: [String: String] = [:]) async throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (inPath, outPath, errPath) = ("\(scratch)/in", "\(scratch)/out", "\(scratch)/err")
        _ = FileManager.default.createFile(atPath: inPath, contents: Data(stdin.utf8))
        let pid = try Subprocess.spawn(
            binary, arguments, stdinPath: inPath, stdoutPath: outPath, stderrPath: errPath, environment: environment(extra))
        let status = await Subprocess.waitOffPool(pid)
        return Result(
            status: status,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }
}
