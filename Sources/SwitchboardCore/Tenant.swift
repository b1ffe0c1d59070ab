import Foundation

/// A company served by this installation (the seeds call it an *enterprise*).
public struct Tenant: Sendable, Equatable, Codable {
    public var id: String
    public var slug: String
    public var name: String
    /// ISO 3166 country used when a phone number comes without a country code.
    public var defaultCountry: String
    /// IANA time zone for reports and business hours.
    public var timeZone: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, slug: String, name: String, defaultCountry: String = "RU", timeZone: String = "Europe/Moscow",
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.slug = slug
        self.name = name
        self.defaultCountry = defaultCountry
        self.timeZone = timeZone
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Checks a slug: 2–63 characters of `a-z`, `0-9` and `-`, starting with a letter or digit.
    /// A slug must not look like an id, or `{tenant}` in a path would be ambiguous.
    public static func validate(slug: String) throws(SwitchboardError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        guard (2...63).contains(slug.count), slug.allSatisfy(allowed.contains), slug.first != "-" else {
            throw .invalid("slug", "slug must be 2–63 characters of a-z, 0-9 and '-', not starting with '-'")
        }
        if UUID(uuidString: slug) != nil {
            throw .invalid("slug", "slug must not be a UUID")
        }
    }

    /// Checks a display name: non-empty after trimming, at most 200 characters.
    public static func validate(name: String) throws(SwitchboardError) {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 200 else {
            throw .invalid("name", "name must be 1–200 characters")
        }
    }

    /// Checks an IANA time zone name.
    public static func validate(timeZone: String) throws(SwitchboardError) {
        guard TimeZone(identifier: timeZone) != nil else {
            throw .invalid("time_zone", "unknown time zone '\(timeZone)' (use an IANA name such as Europe/Moscow)")
        }
    }

    /// Checks a two-letter ISO 3166 country code.
    public static func validate(country: String) throws(SwitchboardError) {
        guard country.count == 2, country.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw .invalid("default_country", "default_country must be a two-letter ISO code such as RU")
        }
    }
}
