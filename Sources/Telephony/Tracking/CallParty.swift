import SwitchboardCore

/// Reads who a channel or number is: one of the company's extensions, an outside number, or neither
/// (a trunk, a queue, `<unknown>`).
public struct PartyClassifier: Sendable {
    /// Extensions are this many digits (the PBX's numbering plan); longer numbers are outside numbers.
    public var extensionDigits: ClosedRange<Int>
    /// Country assumed for numbers without a country code.
    public var defaultCountry: String

    public init(extensionDigits: ClosedRange<Int> = 2...5, defaultCountry: String = "RU") {
        self.extensionDigits = extensionDigits
        self.defaultCountry = defaultCountry
    }

    public enum Party: Sendable, Equatable {
        case extensionNumber(String)
        /// An outside number: E.164 when it could be read, the raw text otherwise.
        case outside(String)
        case unknown
    }

    public func isExtension(_ text: String) -> Bool {
        extensionDigits.contains(text.count) && text.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Classifies a caller-id or dialled number.
    public func number(_ raw: String?) -> Party {
        guard let raw, !raw.isEmpty, raw != "<unknown>", raw != "s" else { return .unknown }
        if isExtension(raw) { return .extensionNumber(raw) }
        if let e164 = PhoneNumber.e164(raw, defaultCountry: defaultCountry) { return .outside(e164) }
        return .unknown
    }

    /// The party behind a channel name: `PJSIP/101-0000002a` and `SIP/101-…` are endpoint 101;
    /// `Local/+375…@pstn-…;1` dials that number. Trunk endpoints (`PJSIP/mts-…`) read as unknown.
    public func channel(_ name: String?) -> Party {
        guard let name, let slash = name.firstIndex(of: "/") else { return .unknown }
        let technology = name[..<slash]
        var resource = name[name.index(after: slash)...]
        if technology == "Local" {
            if let at = resource.firstIndex(of: "@") { resource = resource[..<at] }
        } else if let dash = resource.lastIndex(of: "-") {
            resource = resource[..<dash]
        }
        return number(String(resource))
    }

    /// The party a dial reaches: the channel name first, then the dialled extension.
    public func destination(channel: String?, exten: String?) -> Party {
        let byChannel = self.channel(channel)
        if byChannel != .unknown { return byChannel }
        return number(exten)
    }
}
