/// What the People API needs of a CRM, whichever it is: leads found by our correlation key or by phone,
/// created, changed, and the CRM's list of statuses. Bitrix24 implements it now; amoCRM plugs in later.
public protocol LeadWriter: Sendable {
    /// `bitrix24`, `bitrix24.deal`, `amocrm`: kept on the person, so its record stays with the writer
    /// that made it. Writers of deals have kinds ending in `.deal` (see ``PersonCRMState/entity``).
    var kind: String { get }
    /// `lead` or `deal`: what the record this writer makes is.
    var entity: String { get }
    /// The lead that carries our correlation key (a create that succeeded but was never recorded).
    func lead(correlation: String) async throws -> String?
    /// An existing record with this phone or e-mail (`LEAD` or `CONTACT`), for deduplication.
    func duplicate(phone: String?, email: String?) async throws -> LeadDuplicate?
    /// Creates a lead carrying `correlation`; returns its id. `triedBefore`: an earlier attempt may have
    /// left part of it behind (a deal writer's contact), to be found instead of made again.
    func create(_ values: [String: JSONValue], correlation: String, contactID: String?, triedBefore: Bool) async throws -> String
    /// Changes only `values` of the lead (phone and e-mail replace the first value instead of adding one).
    func update(leadID: String, _ values: [String: JSONValue], correlation: String?) async throws
    /// The CRM's lead statuses: id → name.
    func statuses() async throws -> [String: String]
}

/// A CRM record that already has a person's phone or e-mail.
public struct LeadDuplicate: Sendable, Equatable {
    public var entity: String
    public var id: String

    public init(entity: String, id: String) {
        self.entity = entity
        self.id = id
    }
}
