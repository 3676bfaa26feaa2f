import Access
import Analytics
import Campaigns
import Customers
import Foundation
import Hummingbird
import Jobs
import Loyalty
import OpenAPIHummingbird
import OpenAPIRuntime
import Partners
import Sales
import SharedModels
import Support

/// The REST API under `/v1`, ready to mount on a Hummingbird router.
///
/// Routes come from the OpenAPI document (`openapi.yaml`); this type adds what every route
/// shares: problem+json errors, bearer authentication, and `Idempotency-Key` replay.
public struct PatronAPI: Sendable {
    public static let version = "1.0.0"

    let handler: APIHandler
    let idempotency: any IdempotencyStore

    /// - Parameter health: checks the database and names its engine; throws when it is unreachable.
    public init(
        intake: TransactionIntake, access: AccessService, intelligence: CustomerIntelligence, segments: SegmentService,
        campaigns: CampaignService, support: SupportService, privacy: PrivacyService, partners: PartnerService, sales: SalesService,
        channels: @escaping @Sendable () throws -> [CampaignChannel: any MessageChannel],
        idempotency: any IdempotencyStore, jobs: JobBoard,
        health: @escaping @Sendable () async throws -> String
    ) {
        self.handler = APIHandler(
            customers: intake.customers, intake: intake, access: access, intelligence: intelligence, segments: segments,
            campaigns: campaigns, support: support, privacy: privacy, partners: partners, sales: sales, channels: channels, jobs: jobs,
            health: health)
        self.idempotency = idempotency
    }

    /// Adds the API's middleware and routes to `router`.
    public func register<Context: RequestContext>(on router: Router<Context>) throws {
        router.add(middleware: AuthenticationMiddleware(access: handler.access))
        router.add(middleware: AuditMiddleware(access: handler.access))
        try handler.registerHandlers(
            on: router, configuration: Configuration(dateTranscoder: RFC3339Transcoder(), jsonEncodingOptions: [.sortedKeys]),
            middlewares: [IdempotencyMiddleware(store: idempotency, clock: handler.customers.clock)])
    }
}
