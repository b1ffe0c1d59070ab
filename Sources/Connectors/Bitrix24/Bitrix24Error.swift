import SwitchboardCore

/// An error Bitrix24 answered with (`{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`
/// — the code may be empty, as for bad parameters), or a transport failure.
public struct Bitrix24Error: JobFailureConvertible, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status; 0 when no answer came (timeout, refused connection).
    public var status: Int
    public var code: String
    public var message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String {
        let head = code.isEmpty ? "HTTP \(status)" : code
        return message.isEmpty ? head : "\(head): \(message)"
    }

    /// The portal's leaky bucket is full: rejected before running, safe to repeat after a pause.
    public var isRateLimited: Bool { code == "QUERY_LIMIT_EXCEEDED" }

    /// An app's access token expired (they live an hour): renew it and repeat.
    public var isExpiredToken: Bool { code == "expired_token" }

    /// Worth repeating later: no answer, the request-rate or operating-time limit, server errors —
    /// except `OVERLOAD_LIMIT` (a manual block by Bitrix24 support) and a deleted portal.
    public var isRetryable: Bool {
        if code == "OVERLOAD_LIMIT" || code == "PORTAL_DELETED" { return false }
        return status == 0 || status == 429 || status >= 500 || isRateLimited || code == "OPERATION_TIME_LIMIT"
    }

    /// The job failure this error means for a worker.
    public var jobFailure: JobFailure {
        if code == "WRONG_AUTH_TYPE" {
            // Telephony, events and app.info answer only an installed app; saying so is what helps.
            return .permanent("Bitrix24 answers this only to an installed app, not an incoming webhook (\(description)); install the Switchboard app")
        }
        return isRetryable ? .retryable("Bitrix24 \(description)", retryAfter: isRateLimited ? .seconds(1) : nil) : .permanent("Bitrix24 \(description)")
    }
}
