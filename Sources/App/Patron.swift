import Channels
import Access
import Analytics
import Campaigns
import Crypto
import Customers
import Foundation
import HummingbirdBcrypt
import Logging
import Loyalty
import Partners
import Sales
import SharedModels
import Storage
import StorageGRDB
import StoragePostgres
import StorageSQLite
import Support

/// Where Patron keeps its data: a path ending in `.sqlite`, or a `postgres://` URL.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(url: String)

    /// The default when neither `--database` nor `PATRON_DATABASE_URL` is given.
    public static let defaultPath = "patron.sqlite"

    /// Reads `--database` (or the environment's `PATRON_DATABASE_URL`); throws ``ConfigurationError`` naming the flag.
    public init(_ text: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let value = text ?? environment["PATRON_DATABASE_URL"] ?? Self.defaultPath
        if value.hasPrefix("postgres://") || value.hasPrefix("postgresql://") {
            self = .postgres(url: value)
        } else if value.hasSuffix(".sqlite") || value.hasSuffix(".db") || value.hasSuffix(".sqlite3") {
            self = .sqlite(path: value)
        } else {
            throw ConfigurationError(flag: "--database", reason: "'\(value)' is neither a file ending in .sqlite nor a postgres:// URL")
        }
    }

    public var description: String {
        switch self {
        case .sqlite(let path): "SQLite file \(path)"
        case .postgres(let url):
            "PostgreSQL \(url.replacingOccurrences(of: #"://([^:@/]+):[^@/]*@"#, with: "://$1:***@", options: .regularExpression))"
        }
    }
}


/// bcrypt from hummingbird-auth. Cost 12 in production (≈0.25 s a hash); tests use a lower cost.
public struct BcryptHasher: PasswordHasher {
    public let cost: UInt8
    public init(cost: UInt8 = 12) { self.cost = cost }
    public func hash(_ password: String) -> String { Bcrypt.hash(password, cost: cost) }
    public func verify(_ password: String, against hash: String) -> Bool { Bcrypt.verify(password, hash: hash) }
}

/// SHA-256 in hex for session tokens and API keys.
public struct SHA256Digest: SecretDigest {
    public init() {}
    public func digest(_ secret: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(secret.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 15)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}

/// Patron's settings that are not per-command.
public struct Settings: Sendable {
    public var bcryptCost: UInt8
    public var defaultCountryCode: String
    public var defaultCurrency: String
    /// Which identifiers match incoming activity to customers, strongest first.
    public var matchPriority: [IdentifierKind]
    public var clock: Clock
    /// Patron's address as customers reach it, for tracked links (`PATRON_PUBLIC_URL`).
    public var publicURL: String
    /// Where campaign messages are sent.
    public var channels: ChannelSettings
    /// The desk's working hours for SLA targets (`PATRON_SLA_HOURS`, `PATRON_SLA_TIMEZONE`,
    /// `PATRON_SLA_HOLIDAYS`); nil: targets run round the clock.
    public var serviceHours: BusinessHours?
    /// Reverse proxies whose `X-Forwarded-For` names the client (`PATRON_TRUSTED_PROXIES`, a
    /// comma-separated list of addresses); requests from anyone else are keyed on their own address.
    public var trustedProxies: Set<String> = []
    /// The bearer token a metrics scraper sends to `/metrics` (`PATRON_METRICS_TOKEN`); without
    /// it, only staff holding `metrics:read` (admins) read them.
    public var metricsToken: String?
    /// How long campaign messages and responses are kept (`PATRON_MESSAGE_RETENTION_MONTHS`,
    /// `PATRON_RESPONSE_RETENTION_MONTHS`); the `partitions` job applies it nightly.
    public var retention = Retention()

    public init(
        bcryptCost: UInt8 = 12, defaultCountryCode: String = "1", defaultCurrency: String = "USD",
        matchPriority: [IdentifierKind] = IdentityMatcher().priority, clock: Clock = .system, publicURL: String = "http://127.0.0.1:8080",
        channels: ChannelSettings = ChannelSettings()
    ) {
        self.bcryptCost = bcryptCost
        self.defaultCountryCode = defaultCountryCode
        self.defaultCurrency = defaultCurrency
        self.matchPriority = matchPriority
        self.clock = clock
        self.publicURL = publicURL
        self.channels = channels
    }

    /// Settings from `PATRON_BCRYPT_COST`, `PATRON_COUNTRY_CODE` and `PATRON_CURRENCY`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Settings {
        var settings = Settings()
        settings.channels = ChannelSettings.fromEnvironment(environment)
        _ = try settings.channels.channels()
        if let url = environment["PATRON_PUBLIC_URL"] {
            guard let u = URL(string: url), u.scheme == "http" || u.scheme == "https", u.host != nil else {
                throw ConfigurationError(flag: "PATRON_PUBLIC_URL", reason: "'\(url)' is not an http(s) URL")
            }
            settings.publicURL = url
        }
        if let token = environment["PATRON_METRICS_TOKEN"] {
            guard token.count >= 16 else { throw ConfigurationError(flag: "PATRON_METRICS_TOKEN", reason: "must be at least 16 characters") }
            settings.metricsToken = token
        }
        for (flag, path) in [("PATRON_MESSAGE_RETENTION_MONTHS", \Retention.messageMonths), ("PATRON_RESPONSE_RETENTION_MONTHS", \Retention.responseMonths)] {
            guard let text = environment[flag] else { continue }
            guard let months = Int(text), (1...1200).contains(months) else {
                throw ConfigurationError(flag: flag, reason: "must be a whole number of months from 1 to 1200")
            }
            settings.retention[keyPath: path] = months
        }
        if let proxies = environment["PATRON_TRUSTED_PROXIES"] {
            settings.trustedProxies = Set(proxies.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
        if let cost = environment["PATRON_BCRYPT_COST"] {
            guard let value = UInt8(cost), (4...31).contains(value) else {
                throw ConfigurationError(flag: "PATRON_BCRYPT_COST", reason: "must be a whole number from 4 to 31")
            }
            settings.bcryptCost = value
        }
        if let code = environment["PATRON_COUNTRY_CODE"] {
            guard (1...3).contains(code.count), code.allSatisfy(\.isNumber) else {
                throw ConfigurationError(flag: "PATRON_COUNTRY_CODE", reason: "must be a calling code such as 1 or 44")
            }
            settings.defaultCountryCode = code
        }
        if let currency = environment["PATRON_CURRENCY"] {
            guard Money.isCurrencyCode(currency) else {
                throw ConfigurationError(flag: "PATRON_CURRENCY", reason: "must be an ISO 4217 code such as USD")
            }
            settings.defaultCurrency = currency
        }
        if let hours = environment["PATRON_SLA_HOURS"] {
            do {
                settings.serviceHours = try BusinessHours(
                    parsing: hours, timeZone: environment["PATRON_SLA_TIMEZONE"] ?? "UTC", holidays: environment["PATRON_SLA_HOLIDAYS"] ?? "")
            } catch {
                throw ConfigurationError(flag: "PATRON_SLA_HOURS", reason: error.description)
            }
        } else if environment["PATRON_SLA_TIMEZONE"] != nil || environment["PATRON_SLA_HOLIDAYS"] != nil {
            throw ConfigurationError(
                flag: "PATRON_SLA_HOURS", reason: "set the working hours (e.g. Mon-Fri 09:00-17:00) for the time zone and holidays to apply")
        }
        if let priority = environment["PATRON_MATCH_PRIORITY"] {
            var kinds: [IdentifierKind] = []
            for name in priority.split(separator: ",") {
                guard let kind = IdentifierKind(rawValue: String(name).trimmingSpaces()), !kinds.contains(kind) else {
                    throw ConfigurationError(
                        flag: "PATRON_MATCH_PRIORITY",
                        reason: "'\(name)' is not one of \(IdentifierKind.allCases.map(\.rawValue).joined(separator: ", ")), or appears twice")
                }
                kinds.append(kind)
            }
            guard !kinds.isEmpty else { throw ConfigurationError(flag: "PATRON_MATCH_PRIORITY", reason: "name at least one identifier kind") }
            settings.matchPriority = kinds
        }
        return settings
    }
}

/// One running Patron: its database and the domain services over it. Every command and the
/// server start by opening one of these.
public struct Patron: Sendable {
    public let database: any Database
    public let customers: CustomerService
    public let access: AccessService
    public let accessStore: SQLAccessStore
    public let loyalty: PointsLedger
    /// Customer intelligence: the scoring job and loyalty analytics.
    public let intelligence: CustomerIntelligence
    /// Segments in the rule language.
    public let segments: SegmentService
    /// Campaigns: plans, waves, the outbox, responses and their P&L.
    public let campaigns: CampaignService
    /// The service desk: requests and complaints with value-based SLAs.
    public let support: SupportService
    /// Sales: leads, opportunities, the pipeline, key accounts.
    public let sales: SalesService
    /// Privacy requests: a customer's data exported, or the customer erased.
    public let privacy: PrivacyService
    /// Coalition partners: their terms, statements and settlements.
    public let partners: PartnerService
    /// Purchases and returns come in here, so every path records and earns the same way.
    public let intake: TransactionIntake
    public let settings: Settings

    /// The driver an SQLite file is opened with: SQLiteNIO, or GRDB.swift where
    /// `PATRON_SQLITE_DRIVER=grdb` (#18's measured spike: docs/benchmarks.md, session 14).
    static func openSQLite(path: String, logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment) async throws
        -> any Database
    {
        switch environment["PATRON_SQLITE_DRIVER"] ?? "sqlite-nio" {
        case "sqlite-nio": return try await SQLiteDatabase.open(path: path, logger: logger)
        case "grdb": return try await GRDBDatabase.open(path: path, logger: logger)
        case let other: throw ConfigurationError(flag: "PATRON_SQLITE_DRIVER", reason: "'\(other)' is neither sqlite-nio (the default) nor grdb")
        }
    }

    /// Opens the database, creating an SQLite file if missing, and applies pending migrations.
    /// - Parameter readReplica: a streaming replica of a PostgreSQL primary (`--read-database`),
    ///   which then answers analytics, segment counts, reports and list views
    ///   (``Database/readFromReplica(_:)``).
    public static func open(
        _ location: DatabaseLocation, readReplica: DatabaseLocation? = nil, settings: Settings = Settings(), logger: Logger = Logger(label: "patron")
    ) async throws -> Patron {
        if let readReplica {
            guard case .postgres = location, case .postgres = readReplica else {
                throw ConfigurationError(flag: "--read-database", reason: "a read replica is a PostgreSQL standby of a PostgreSQL --database")
            }
        }
        var database: any Database =
            switch location {
            case .sqlite(let path): try await openSQLite(path: path, logger: logger)
            case .postgres(let url): try await PostgresDatabase.open(url: url, logger: logger)
            }
        do {
            try await Migrations.run(on: database)
            if case .postgres(let url) = readReplica {
                let replica = try await PostgresDatabase.open(url: url, logger: logger)
                database = ReplicatedDatabase(primary: database, replica: replica, logger: logger)
            }
        } catch {
            try? await database.close()
            throw error
        }
        return Patron(database: database, settings: settings)
    }

    /// Whether a read replica answers some reads (`--read-database`).
    public var hasReadReplica: Bool { database is ReplicatedDatabase }

    public init(database: any Database, settings: Settings) {
        self.database = database
        self.settings = settings
        self.accessStore = SQLAccessStore(database: database)
        self.customers = CustomerService(
            store: SQLCustomerStore(database: database), clock: settings.clock, matcher: IdentityMatcher(priority: settings.matchPriority),
            defaultCountryCode: settings.defaultCountryCode,
            defaultCurrency: settings.defaultCurrency)
        self.loyalty = PointsLedger(store: SQLLedgerStore(database: database), clock: settings.clock)
        // On PostgreSQL, groups of API purchases may be written side by side (PATRON_ACCRUAL_LANES).
        // One by default: measured with 32 clients and 50 promotions, 4 lanes gave 193–203
        // purchases/s against 304–327 for one, as the groups queue on the promotions' budget
        // accounts they all lock (docs/scaling.md). SQLite's single writer takes one at a time.
        let lanes = database.engine == .postgres
            ? (ProcessInfo.processInfo.environment["PATRON_ACCRUAL_LANES"].flatMap { Int($0) }.map { min(max($0, 1), 64) } ?? 1) : 1
        let partnerTerms = PartnerService(store: SQLPartnerStore(database: database), clock: settings.clock)
        self.intake = TransactionIntake(customers: customers, loyalty: loyalty, lanes: lanes) { codes in
            try await partnerTerms.terms(of: codes).mapValues { Party.partner(code: $0.code, outlets: Set($0.outlets), rewards: Set($0.rewards)) }
        }
        self.intelligence = CustomerIntelligence(store: SQLAnalyticsStore(database: database), clock: settings.clock)
        self.segments = SegmentService(store: SQLSegmentStore(database: database), clock: settings.clock)
        self.campaigns = CampaignService(
            store: SQLCampaignStore(database: database), segments: segments, templates: MustacheTemplates(), clock: settings.clock,
            publicURL: settings.publicURL)
        let mail = try? settings.channels.serviceMail()
        self.support = SupportService(
            store: SQLSupportStore(database: database), customers: customers, clock: settings.clock,
            policy: .standard(hours: settings.serviceHours),
            notify: { [publicURL = settings.publicURL] notice in
                guard let mail = mail ?? nil else { return false }
                return await ServiceMail.send(notice, publicURL: publicURL, through: mail)
            }
        ) { [intelligence] customer in try await intelligence.scores(of: customer)?.valueTier.rawValue }
        self.partners = partnerTerms
        self.sales = SalesService(store: SQLSalesStore(database: database), clock: settings.clock)
        let access = AccessService(
            store: accessStore, hasher: BcryptHasher(cost: settings.bcryptCost), digest: SHA256Digest(), clock: settings.clock)
        self.access = access
        self.privacy = PrivacyService(store: SQLPrivacyStore(database: database), customers: customers, clock: settings.clock) {
            try await access.audit(actor: $0, action: $1, target: $2, outcome: "ok", detail: $3)
        }
    }

    public func close() async throws { try await database.close() }

    /// Runs `body` and then closes the database, whether or not `body` throws.
    public func closing<T>(after body: (Patron) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            try await close()
            return result
        } catch {
            try? await close()
            throw error
        }
    }

    /// The nightly job: scores every customer, then rebuilds what segment rules read.
    public func runNightly() async throws -> ScoringRun {
        let run = try await intelligence.score()
        try await segments.refresh()
        return run
    }

    /// One pass of the campaign job through the configured channels: due waves prepared, the
    /// outbox sent, responses attributed.
    public func runCampaigns() async throws -> CampaignService.DispatchReport {
        try await campaigns.run(through: try settings.channels.channels())
    }

    /// Whether the database holds no customers yet (the demo loads only into an empty one).
    public func isEmpty() async throws -> Bool {
        try await customers.search(nil, after: nil, limit: PageSize(1)).items.isEmpty
    }
}

/// Printed (in logs, in errors) without the metrics token or the channels' credentials.
extension Settings: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "Settings(country: \(defaultCountryCode), currency: \(defaultCurrency), publicURL: \(publicURL), channels: \(channels), "
            + "metricsToken: \(metricsToken == nil ? "none" : "<redacted>"), trustedProxies: \(trustedProxies.sorted()))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }
}
