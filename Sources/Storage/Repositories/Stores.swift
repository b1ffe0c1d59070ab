import SwitchboardCore

/// Every control-table repository over one runner (the database, or an open transaction).
public struct Stores: Sendable {
    public let tenants: TenantRepository
    public let integrations: IntegrationRepository
    public let users: AdminUserRepository
    public let apiTokens: APITokenRepository
    public let signingKeys: SigningKeyRepository
    public let logs: IntegrationLogRepository
    public let schedules: ScheduleRepository
    public let calls: CallRepository
    public let managers: ManagerRepository
    public let syncStates: SyncStateRepository
    public let cursors: ConnectorCursorRepository
    public let people: PersonRepository
    public let peopleFeed: PeopleFeedRepository
    public let peopleSettings: PeopleSettingsRepository

    public init(_ runner: any SQLRunner, secrets: SecretBox) {
        people = PersonRepository(runner)
        peopleFeed = PeopleFeedRepository(runner)
        peopleSettings = PeopleSettingsRepository(runner, secrets: secrets)
        tenants = TenantRepository(runner, secrets: secrets)
        integrations = IntegrationRepository(runner, secrets: secrets)
        users = AdminUserRepository(runner)
        apiTokens = APITokenRepository(runner)
        signingKeys = SigningKeyRepository(runner, secrets: secrets)
        logs = IntegrationLogRepository(runner)
        schedules = ScheduleRepository(runner)
        calls = CallRepository(runner)
        managers = ManagerRepository(runner)
        syncStates = SyncStateRepository(runner)
        cursors = ConnectorCursorRepository(runner)
    }
}
