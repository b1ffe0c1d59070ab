import Logging
import SwitchboardCore

/// "Test connection" for an AMI account: connect once, log in, list the endpoints, log out — no retries.
public enum AMIProbe {
    /// What a successful probe found.
    public struct Found: Sendable, Equatable {
        public var endpoints: [String]
    }

    /// Connects with `configuration` and reports the first thing that happens: logged in (with the PJSIP
    /// endpoints, when the account may list them), login refused, connection failed, or no answer in `timeout`.
    public static func run(_ configuration: AMIConfiguration, timeout: Duration = .seconds(6), logger: Logger) async -> Result<Found, AMIError> {
        var configuration = configuration
        configuration.connectTimeout = min(configuration.connectTimeout, timeout)
        configuration.actionTimeout = min(configuration.actionTimeout, timeout)
        configuration.reconnectDelay = .seconds(3600) ... .seconds(3600)  // one attempt only
        let client = AMIClient(configuration: configuration, logger: logger)
        let (states, sink) = AsyncStream.makeStream(of: AMIConnectionState.self)
        return await withTaskGroup(of: Result<Found, AMIError>?.self) { group in
            group.addTask {
                await client.run(onEvent: { _ in }, onState: { sink.yield($0) })
                return nil
            }
            group.addTask {
                for await state in states {
                    switch state {
                    case .connecting: continue
                    case .connected:
                        let listed = (try? await client.sendList(AMIMessage([("Action", "PJSIPShowEndpoints")]))) ?? []
                        return .success(Found(endpoints: listed.compactMap { $0.event == "EndpointList" ? $0["ObjectName"] : nil }))
                    case .loginFailed(let message): return .failure(AMIError(message))
                    case .disconnected(let reason): return .failure(AMIError(reason))
                    }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .failure(AMIError("no answer within \(Int(timeout.inSeconds)) s"))
            }
            var outcome: Result<Found, AMIError> = .failure(AMIError("the probe ended without an answer"))
            while let next = await group.next() {
                if let next {
                    outcome = next
                    break
                }
            }
            group.cancelAll()
            sink.finish()
            return outcome
        }
    }
}
