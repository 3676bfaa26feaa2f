import Foundation
import SharedModels

public typealias UserID = ID<User>
public typealias APIKeyID = ID<APIKey>

/// A staff role. Each role is a fixed set of ``Permission``s; see ``permissions``.
public enum Role: String, Sendable, Codable, CaseIterable {
    case admin
    case loyaltyManager = "loyalty_manager"
    case marketer
    case agent
    case analyst
    /// Sales reps and key account managers: work leads, own opportunities, read their accounts.
    case sales

    /// What the role may do. Admins may do everything; analysts only read.
    public var permissions: Set<Permission> {
        switch self {
        case .admin: Set(Permission.allCases)
        case .loyaltyManager:
            [
                .customersRead, .customersWrite, .transactionsWrite, .interactionsWrite, .dataImport, .dataExport, .loyaltyRead, .loyaltyManage,
                .pointsAdjust, .pointsRedeem, .vouchersRedeem, .membersEnroll, .analyticsRead, .segmentsRead, .campaignsRead, .requestsRead,
                .partnersManage,
            ]
        case .marketer:
            [
                .customersRead, .consentsWrite, .dataExport, .loyaltyRead, .analyticsRead, .segmentsRead, .segmentsManage, .campaignsRead,
                .campaignsManage, .salesRead,
            ]
        case .agent:
            [
                .customersRead, .customersWrite, .customersMerge, .transactionsWrite, .interactionsWrite, .consentsWrite, .memberLoginsManage,
                .loyaltyRead,
                .pointsAdjust, .pointsRedeem, .vouchersRedeem, .membersEnroll, .tasksWork, .requestsRead, .requestsWork, .leadsCreate,
            ]
        case .analyst: [.customersRead, .dataExport, .loyaltyRead, .analyticsRead, .analyticsRun, .segmentsRead, .campaignsRead, .salesRead]
        case .sales:
            [
                .customersRead, .customersWrite, .interactionsWrite, .loyaltyRead, .analyticsRead, .segmentsRead, .campaignsRead, .requestsRead,
                .salesRead, .salesManage, .leadsCreate,
            ]
        }
    }
}

/// One thing a caller may be allowed to do.
public enum Permission: String, Sendable, Codable, CaseIterable {
    case customersRead = "customers:read"
    case customersWrite = "customers:write"
    case customersMerge = "customers:merge"
    case transactionsWrite = "transactions:write"
    case interactionsWrite = "interactions:write"
    case consentsWrite = "consents:write"
    case usersManage = "users:manage"
    case apiKeysManage = "api_keys:manage"
    case memberLoginsManage = "member_logins:manage"
    case dataImport = "data:import"
    case dataExport = "data:export"
    case loyaltyRead = "loyalty:read"
    /// Create and configure programs, enrol members.
    case loyaltyManage = "loyalty:manage"
    /// Correct a member's points with a reason.
    case pointsAdjust = "points:adjust"
    /// Spend points on a member's behalf.
    case pointsRedeem = "points:redeem"
    /// Honour a member's voucher at a till or a partner.
    case vouchersRedeem = "vouchers:redeem"
    /// Enrol a customer in a program (staff at a desk, a partner signing up its guests).
    case membersEnroll = "members:enroll"
    /// Read customer intelligence: scores across customers, RFM, basket rules, loyalty analytics.
    case analyticsRead = "analytics:read"
    /// Run the scoring job on demand.
    case analyticsRun = "analytics:run"
    /// Count, preview and list segments.
    case segmentsRead = "segments:read"
    /// Save, change, snapshot segments (change and delete only one's own, unless admin).
    case segmentsManage = "segments:manage"
    /// Read campaigns, their results, what-ifs and leads.
    case campaignsRead = "campaigns:read"
    /// Plan, launch and run campaigns (change and launch only one's own, unless admin).
    case campaignsManage = "campaigns:manage"
    /// Report delivery receipts (an SMS gateway's or mail service's callback).
    case campaignEventsWrite = "campaign_events:write"
    /// Work the agent desk's call tasks.
    case tasksWork = "tasks:work"
    /// Read service requests, their threads and the desk's queues.
    case requestsRead = "requests:read"
    /// Open, answer, assign, re-prioritise and resolve service requests.
    case requestsWork = "requests:work"
    /// Read leads, opportunities, the pipeline and key accounts.
    case salesRead = "sales:read"
    /// Pass a customer to sales as a lead (an agent who heard of a need, a rep who met someone).
    case leadsCreate = "leads:create"
    /// Work leads and own opportunities (change only one's own, unless admin).
    case salesManage = "sales:manage"
    /// Read the audit log.
    case auditRead = "audit:read"
    /// Scrape `/metrics` (admins; or Prometheus with `PATRON_METRICS_TOKEN`).
    case metricsRead = "metrics:read"
    /// See the background jobs, run one now, retry a failed or dead one (admins).
    case jobsManage = "jobs:manage"
    /// Register and fulfil privacy requests: export a customer's data, erase a customer.
    case privacyManage = "privacy:manage"
    /// Set partners' terms, read their statements, settle months and record payments.
    case partnersManage = "partners:manage"
}

/// What a partner API key may do.
public enum APIScope: String, Sendable, Codable, CaseIterable {
    case transactionsWrite = "transactions:write"
    case interactionsWrite = "interactions:write"
    /// Find a member by identifier to check they exist (no profile details beyond the name).
    case customersLookup = "customers:lookup"
    /// Honour members' vouchers (a partner's till).
    case vouchersRedeem = "vouchers:redeem"
    /// Enrol the customers it finds in a program (a partner signing up its guests).
    case membersEnroll = "members:enroll"
    /// Report campaign messages' delivery receipts (an SMS gateway's callback).
    case campaignEventsWrite = "campaign_events:write"

    var permission: Permission? {
        switch self {
        case .transactionsWrite: .transactionsWrite
        case .interactionsWrite: .interactionsWrite
        case .vouchersRedeem: .vouchersRedeem
        case .membersEnroll: .membersEnroll
        case .campaignEventsWrite: .campaignEventsWrite
        case .customersLookup: nil
        }
    }
}

/// Who is calling: a staff user with a role, a member reaching only their own records, or a partner with a scoped API key.
public enum Principal: Sendable, Equatable {
    case staff(id: UserID, email: String, role: Role)
    /// `customerID` is the raw id of the member's customer record, the only one they may reach.
    case member(customerID: Int64, email: String)
    case partner(keyID: APIKeyID, name: String, partner: String, scopes: [APIScope])
    /// A partner's cashier or manager signed in to the partner portal with a password.
    case partnerUser(id: Int64, email: String, partner: String, role: PartnerRole)

    /// The partner (its code) a key or a partner's user acts for; nil for staff and members.
    public var partnerCode: String? {
        switch self {
        case .partner(_, _, let partner, _), .partnerUser(_, _, let partner, _): partner
        default: nil
        }
    }

    /// What a partner's key or user may do; empty for staff and members.
    public var scopes: [APIScope] {
        switch self {
        case .partner(_, _, _, let scopes): scopes
        case .partnerUser(_, _, _, let role): role.scopes
        default: []
        }
    }

    /// Whether the caller may read its partner's statements and decide its joint promotions: the
    /// partner's own integration key, or a manager (not a cashier).
    public var mayManagePartnerAccount: Bool {
        switch self {
        case .partner: true
        case .partnerUser(_, _, _, let role): role == .manager
        default: false
        }
    }

    /// A staff user (not a member or a partner key).
    public var isStaff: Bool {
        if case .staff = self { return true }
        return false
    }

    public var permissions: Set<Permission> {
        switch self {
        case .staff(_, _, let role): role.permissions
        case .member: []
        case .partner, .partnerUser: Set(scopes.compactMap(\.permission))
        }
    }

    public func can(_ permission: Permission) -> Bool { permissions.contains(permission) }

    /// A staff admin: may change what others own (segments, campaigns, leads, opportunities).
    public var isAdmin: Bool {
        if case .staff(_, _, .admin) = self { return true }
        return false
    }

    /// Throws ``AccessError/forbidden(_:)`` unless the caller has `permission`.
    public func require(_ permission: Permission) throws {
        guard can(permission) else { throw AccessError.forbidden(permission) }
    }

    /// Whether the caller may read the customer record with this raw id: staff who read customers,
    /// or the member who is that customer.
    public func mayRead(customer id: Int64) -> Bool {
        switch self {
        case .member(let own, _): own == id
        default: can(.customersRead)
        }
    }

    /// How the caller is named in audit trails: `ann@example.com`, `member:42`, `partner:acme/pos-key`.
    public var actor: String {
        switch self {
        case .staff(_, let email, _): email
        case .member(let id, _): "member:\(id)"
        case .partner(_, let name, let partner, _): "partner:\(partner)/\(name)"
        case .partnerUser(_, let email, let partner, _): "partner:\(partner)/\(email)"
        }
    }

    /// A stable key naming the caller, for idempotency records.
    public var key: String {
        switch self {
        case .staff(let id, _, _): "user:\(id)"
        case .member(let id, _): "member:\(id)"
        case .partner(let id, _, _, _): "apikey:\(id)"
        case .partnerUser(let id, _, _, _): "partneruser:\(id)"
        }
    }
}
