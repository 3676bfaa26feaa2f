import Foundation
import SharedModels
import Testing

@testable import Access

/// Who may do what, decided without a database: roles, partner scopes, members' own records, the
/// sign-in throttle's delays and what counts as an email and a password.
@Suite struct PrincipalTests {
    static let admin = Principal.staff(id: UserID(1), email: "ann@x.com", role: .admin)
    static let analyst = Principal.staff(id: UserID(2), email: "al@x.com", role: .analyst)
    static let member = Principal.member(customerID: 42, email: "m@x.com")
    static let till = Principal.partner(keyID: APIKeyID(7), name: "till", partner: "CAFE", scopes: [.transactionsWrite, .customersLookup])

    @Test("admins hold every permission; other roles only theirs; members none; partner keys only their scopes'")
    func permissions() {
        #expect(Self.admin.permissions == Set(Permission.allCases) && Self.admin.isAdmin)
        #expect(Self.analyst.can(.analyticsRead) && !Self.analyst.can(.usersManage) && !Self.analyst.isAdmin)
        #expect(Self.member.permissions.isEmpty && !Self.member.isStaff)
        #expect(Self.till.permissions == [.transactionsWrite])  // customers:lookup is checked by the look-up itself
        #expect(throws: AccessError.forbidden(.usersManage)) { try Self.analyst.require(.usersManage) }
        for role in Role.allCases where role != .admin {
            #expect(!role.permissions.contains(.usersManage), "\(role) manages users")
            #expect(!role.permissions.contains(.jobsManage), "\(role) runs jobs")
        }
    }

    @Test("a member reads only their own record; staff who read customers read any")
    func ownership() {
        #expect(Self.member.mayRead(customer: 42) && !Self.member.mayRead(customer: 43))
        #expect(Self.analyst.mayRead(customer: 43))
        #expect(!Self.till.mayRead(customer: 42))
    }

    @Test("audit names and idempotency keys tell callers apart")
    func names() {
        #expect(Self.admin.actor == "ann@x.com" && Self.member.actor == "member:42" && Self.till.actor == "partner:CAFE/till")
        #expect(Set([Self.admin.key, Self.analyst.key, Self.member.key, Self.till.key]).count == 4)
    }

    @Test("the throttle: free failures, then 30 s doubling to 15 minutes, never overflowing")
    func throttle() {
        let t = LoginThrottle.standard
        #expect(t.delay(afterFailures: 4, free: 5) == 0)
        #expect(t.delay(afterFailures: 5, free: 5) == 30)
        #expect(t.delay(afterFailures: 6, free: 5) == 60)
        #expect(t.delay(afterFailures: 10, free: 5) == 900)
        #expect(t.delay(afterFailures: .max, free: 5) == 900)
    }

    @Test("emails are normalised and checked; passwords are 8 characters to 72 bytes (bcrypt's limit)")
    func credentials() throws {
        #expect(try AccessService.validEmail(" Ann@Example.COM ") == "ann@example.com")
        #expect(throws: AccessError.self) { try AccessService.validEmail("ann") }
        #expect(throws: AccessError.invalid(field: "password", reason: "must be at least 8 characters")) { try AccessService.validPassword("short") }
        #expect(throws: AccessError.invalid(field: "password", reason: "must be at most 72 bytes")) {
            try AccessService.validPassword(String(repeating: "é", count: 40))
        }
        try AccessService.validPassword("long enough")
        let a = AccessService.randomSecret(), b = AccessService.randomSecret()
        #expect(a != b && a.count >= 43)
    }
}
