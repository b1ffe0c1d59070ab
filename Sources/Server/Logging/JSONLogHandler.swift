import Foundation
import Logging
import Synchronization

/// Writes one JSON object per log line: `{"ts","level","label","message",…metadata}`.
///
/// Metadata carries `request_id`, `tenant` and `caller`; values are rendered as strings. The sink is
/// injectable so tests can capture every line and assert that no secret was ever logged.
public struct JSONLogHandler: LogHandler {
    /// Where finished lines go.
    public struct Sink: Sendable {
        let write: @Sendable (String) -> Void

        public init(write: @escaping @Sendable (String) -> Void) { self.write = write }

        /// Standard error, so a command's standard output stays machine-readable (`--json`).
        public static let standardError = Sink { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let sink: Sink

    public init(label: String, level: Logger.Level = .info, sink: Sink = .standardError) {
        self.label = label
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private static let formatter: Mutex<ISO8601DateFormatter> = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return Mutex(formatter)
    }()

    public func log(event: LogEvent) {
        var object: [String: String] = [:]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) {
            object[key] = "\(value)"
        }
        object["ts"] = Self.formatter.withLock { $0.string(from: Date()) }
        object["level"] = event.level.rawValue
        object["label"] = label
        object["message"] = event.message.description
        if event.level >= .error { object["source"] = "\(event.file):\(event.line)" }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        sink.write(String(decoding: data, as: UTF8.self))
    }
}
