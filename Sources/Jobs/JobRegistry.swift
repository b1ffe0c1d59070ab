import Logging
import Storage
import SwitchboardCore

/// What a handler gets: the job and a logger tagged with its id, kind and tenant.
public struct JobContext: Sendable {
    public let job: Job
    public let logger: Logger
}

/// The job kinds this process can run, with their retry policy and time limit.
public struct JobRegistry: Sendable {
    public typealias Handler = @Sendable (JobContext) async throws -> JSONValue?

    struct Entry: Sendable {
        var policy: RetryPolicy
        var timeout: Duration
        var handler: Handler
    }

    private var entries: [String: Entry] = [:]

    public init() {}

    /// Registers `handler` for `kind`. A handler returns a JSON result or throws — ``JobFailure`` to say
    /// whether a retry can help; any other error counts as retryable.
    public mutating func register(
        _ kind: String, policy: RetryPolicy = .standard, timeout: Duration = .seconds(300),
        handler: @escaping Handler
    ) {
        entries[kind] = Entry(policy: policy, timeout: timeout, handler: handler)
    }

    public var kinds: [String] { entries.keys.sorted() }

    public func policy(for kind: String) -> RetryPolicy? { entries[kind]?.policy }

    func entry(for kind: String) -> Entry? { entries[kind] }
}

extension JobFailure {
    /// What a handler's error means for the queue: a ``JobFailure`` as thrown, a CRM client's error by
    /// its own verdict (``JobFailureConvertible``), anything else retryable with a readable message.
    public init(_ error: any Error) {
        if let failure = error as? JobFailure {
            self = failure
        } else if let convertible = error as? any JobFailureConvertible {
            self = convertible.jobFailure
        } else {
            self = .retryable(Database.describe(error))
        }
    }
}
