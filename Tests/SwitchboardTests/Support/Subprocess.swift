import Foundation

/// Starts programs with posix_spawn and reaps them with waitpid. (Foundation's `Process` was seen to miss
/// the exit of `runuser` here and wait forever.) Output goes to files, never pipes: a daemon such as the
/// postmaster that pg_ctl forks would hold a pipe open for its whole life.
enum Subprocess {
    /// Starts `executable` with stdin from `stdinPath` and stdout/stderr appended to the given files
    /// (stderr to stdout's file when `stderrPath` is nil). Returns the pid.
    static func spawn(
        _ executable: String, _ arguments: [String], stdinPath: String = "/dev/null", stdoutPath: String,
        stderrPath: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let stderrPath {
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer {
            envp.forEach { free($0) }
            argv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else { throw HarnessError("cannot start \(executable): errno \(spawned)") }
        return pid
    }

    /// Waits for `pid` on a dispatch thread: a blocking `waitpid` on one of the few cooperative threads
    /// would stall every other test (and their network reads) for as long as the program runs.
    static func waitOffPool(_ pid: pid_t) async -> Int32 {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: wait(pid)) }
        }
    }

    /// Waits for `pid` and returns its exit code (or 128 + signal).
    @discardableResult
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
