/// Splits the AMI byte stream into messages: lines end with CRLF (a bare LF is accepted too), a message
/// ends with an empty line. The first line of a connection is the banner (`Asterisk Call Manager/…`).
/// Incremental — bytes may arrive in any pieces — and bounded: an endless message is cut off rather
/// than allowed to eat memory.
public struct AMIFrameDecoder: Sendable {
    /// What came out of the bytes fed so far.
    public enum Output: Sendable, Equatable {
        case banner(String)
        case message(AMIMessage)
        /// A message longer than the limit was dropped (the stream resynchronises at the next empty line).
        case oversized(bytes: Int)
    }

    public let maxMessageBytes: Int
    private var line: [UInt8] = []
    private var headers: [(name: String, value: String)] = []
    private var messageBytes = 0
    private var skipping = false
    private var sawBanner: Bool

    public init(maxMessageBytes: Int = 64 * 1024, expectBanner: Bool = true) {
        self.maxMessageBytes = maxMessageBytes
        self.sawBanner = !expectBanner
    }

    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Output] {
        var outputs: [Output] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                finishLine(into: &outputs)
                line.removeAll(keepingCapacity: true)
                continue
            }
            messageBytes += 1
            if messageBytes > maxMessageBytes {
                if !skipping { outputs.append(.oversized(bytes: messageBytes)) }
                skipping = true
                line.removeAll(keepingCapacity: true)
                headers.removeAll()
                continue
            }
            line.append(byte)
        }
        return outputs
    }

    private mutating func finishLine(into outputs: inout [Output]) {
        let text = String(decoding: line, as: UTF8.self)
        if !sawBanner {
            sawBanner = true
            if !text.contains(":") || text.hasPrefix("Asterisk Call Manager") {
                outputs.append(.banner(text))
                messageBytes = 0
                return
            }
        }
        if text.isEmpty {
            if !skipping, !headers.isEmpty { outputs.append(.message(AMIMessage(headers))) }
            headers.removeAll()
            messageBytes = 0
            skipping = false
            return
        }
        guard !skipping else { return }
        if let colon = text.firstIndex(of: ":") {
            let name = String(text[..<colon]).trimmingSpaces
            let value = String(text[text.index(after: colon)...]).trimmingSpaces
            if !name.isEmpty { headers.append((name, value)) }
        } else {
            // Command output and other free text inside a message: kept under an empty name.
            headers.append(("", text))
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var slice = Substring(self)
        while slice.first == " " || slice.first == "\t" { slice = slice.dropFirst() }
        while slice.last == " " || slice.last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
