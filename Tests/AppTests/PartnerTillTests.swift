import Access
import App
import Customers
import Demo
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Loyalty
import SharedModels
import TestSupport
import Testing

/// The partner's till as its people use it: a cashier signs in with a password (not a pasted
/// key), finds the member by whatever they hand over, records a purchase and a return that name
/// the member, honours a voucher by its code; a cashier sees no statements; a manager does; an
/// administrator adds and deactivates them.
@Suite struct PartnerTillTests {
    static let until = Date(epochSeconds: 1_767_225_600)

    @Test("a cashier signs in with a password, finds a member by any phone format or number, records a purchase and a return, honours a voucher", arguments: TestEngine.available)
    func till(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine, clock: TestClock(Self.until)) { p in
            _ = try await DemoCompany(customers: 60, seed: 7, until: Self.until).load(into: p)
            // A member with a phone: the till finds them by it in a format people write.
            var picked: (Customer, Member)?
            for c in try await p.customers.list(CustomerListQuery(limit: 60)).items where picked == nil && c.profile.phones.first?.value.hasPrefix("+1") == true {
                if let m = try await p.loyalty.memberships(of: c.id).first { picked = (c, m) }
            }
            let (customer, member) = try #require(picked)
            let digits = String(customer.profile.phones[0].value.dropFirst(2))
            let dotted = "\(digits.prefix(3)).\(digits.dropFirst(3).prefix(3)).\(digits.suffix(4))"
            let gift = try #require(try await p.loyalty.rewards(of: member.programID).first { $0.code == "GIFT10" })
            let coffee = try #require(try await p.loyalty.rewards(of: member.programID).first { $0.code == "COFFEE" })
            _ = try await p.loyalty.adjust(5_000, for: member.id, memo: "test", by: "test", idempotencyKey: nil)
            let giftVoucher = try await p.loyalty.redeem(reward: gift.id, for: member.id, idempotencyKey: nil)
            let coffeeVoucher = try await p.loyalty.redeem(reward: coffee.id, for: member.id, idempotencyKey: nil)

            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let cashier = try await WebVisitor.signIn(client, "partners", "email=cashier%40cafe.example&password=\(DemoCompany.adminPassword)")
                let home = try await cashier.get("/partners/")
                #expect(home.status == .ok && home.body.contains("Northwind Café — cashier@cafe.example (Cashier)"), "the header names the partner")
                #expect(!home.body.contains("/partners/statements"), "a cashier has no statements")
                #expect(try await cashier.get("/partners/statements").status == .notFound)
                // Found by a dotted phone and by the membership number, with the points to spend.
                for typed in [dotted, member.number.lowercased()] {
                    let found = try await cashier.get("/partners/?member=\(typed)")
                    #expect(found.body.contains(#"<p id="found">"#) && found.body.contains(member.number), "\(typed)")
                }
                let nobody = try await cashier.get("/partners/?member=999.999.9999")
                #expect(nobody.body.contains("No member matches"))
                // A purchase by membership number names the member; a return takes the points back.
                let bought = try await cashier.post(
                    "/partners/transactions", "transaction_id=C-1&member=\(member.number)&amount=40.00&store=CAFE", tokenPage: "/partners/")
                #expect(bought.body.contains("Receipt C-1 recorded: \(customer.displayName) earned"), "\(bought.body.prefix(300))")
                let earned = try #require(bought.body.firstMatch(of: /earned ([0-9,]+) points/)).output.1
                let returned = try await cashier.post("/partners/returns", "original=C-1&return_id=C-1R&amount=40.00", tokenPage: "/partners/")
                #expect(returned.body.contains("Return C-1R recorded against receipt C-1: \(earned) points taken back"), "\(returned.body.prefix(400))")
                let unknown = try await cashier.post("/partners/returns", "original=NOPE&return_id=X&amount=1", tokenPage: "/partners/")
                #expect(unknown.status == .unprocessableContent && unknown.body.contains("No receipt NOPE at your outlets"))
                // Vouchers by code: the café's gift card yes (typed in lower case), the company's coffee no.
                let honoured = try await cashier.post("/partners/vouchers", "code=\(giftVoucher.code.lowercased())", tokenPage: "/partners/")
                #expect(honoured.body.contains("Voucher \(giftVoucher.code) honoured: give \(customer.displayName) $10 gift card."), "\(honoured.body.prefix(400))")
                #expect(try await p.loyalty.voucher(giftVoucher.id).status == .used)
                let again = try await cashier.post("/partners/vouchers", "code=\(giftVoucher.code)", tokenPage: "/partners/")
                #expect(again.status == .unprocessableContent)
                let foreign = try await cashier.post("/partners/vouchers", "code=\(coffeeVoucher.code)", tokenPage: "/partners/")
                #expect(foreign.status == .unprocessableContent && foreign.body.contains("COFFEE"))
                #expect(try await p.loyalty.voucher(coffeeVoucher.id).status == .issued)
                // The manager reads statements; the administrator deactivates the cashier, whose session ends.
                let manager = try await WebVisitor.signIn(client, "partners", "email=manager%40cafe.example&password=\(DemoCompany.adminPassword)")
                #expect(try await manager.get("/partners/statements").status == .ok)
                let lm = try await WebVisitor.signIn(client, "console", "email=loyalty%40northwind.example&password=\(DemoCompany.adminPassword)")
                let account = try await lm.get("/console/partners/CAFE")
                #expect(account.body.contains("cashier@cafe.example") && account.body.contains("Manager"))
                let cashierID = try #require(try await p.access.partnerUsers(partner: "CAFE").first { $0.email == "cashier@cafe.example" }).id
                let off = try await lm.post("/console/partners/CAFE/users/\(cashierID)/deactivate", "", tokenPage: "/console/partners/CAFE")
                #expect(off.body.contains("cashier@cafe.example is signed out and cannot sign in."))
                let after = try await cashier.get("/partners/")
                #expect(after.status != .ok || after.body.contains("Sign in"), "the cashier's session ended")
                // A staff password does not open the partner portal.
                let staff = try await client.execute(
                    uri: "/partners/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: "email=admin%40northwind.example&password=\(DemoCompany.adminPassword)"))
                #expect(staff.status == .unauthorized)
            }
        }
    }
}
