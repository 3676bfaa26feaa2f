import Access
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import Loyalty
import NIOCore
import Partners
import SharedModels

/// The member portal: a member sees and changes only their own records — no page takes a
/// customer id, so there is no other member's page to reach.
struct PortalPages: Sendable {
    let console: WebConsole
    var views: Views { console.views }
    var s: WebConsole.Services { console.services }

    static let preferenceChannels: [(Customers.Channel, String)] = [(.email, "Email"), (.sms, "Text messages (SMS)"), (.directMail, "Post")]

    func register(on router: Router<WebRequestContext>) {
        LoginPages(console: console, site: .portal).register(on: router)
        router.get("/portal/welcome") { request, _ in
            try views.page(.portal, visitor: await console.visitor(request, .portal), title: "Welcome to Rewards", template: "welcome", [:])
        }
        router.get("/portal/join") { _, _ in try views.page(.portal, visitor: nil, title: "Join the rewards program", template: "join", [:]) }
        router.post("/portal/join") { request, context in
            let form = try await Form(request, context)
            return try await join(form)
        }
        router.get("/portal/") { request, _ in
            try await console.signedIn(request, .portal) { v in try await home(v, flash: nil) }
        }
        router.get("/portal/statement") { request, _ in
            try await console.signedIn(request, .portal) { v in
                try await statement(v, year: request.uri.queryParameters["year"].flatMap { Int(String($0)) })
            }
        }
        router.get("/portal/rewards") { request, _ in
            try await console.signedIn(request, .portal) { v in try await rewards(v) }
        }
        router.get("/portal/rewards/:id/confirm") { request, context in
            try await console.signedIn(request, .portal) { v in
                guard let id = Int64(try context.parameters.require("id")), let member = try await membership(v),
                    let item = try await s.loyalty.catalogue(for: member.id).first(where: { $0.reward.id.rawValue == id })
                else { return try await rewards(v, error: "That reward is not available.") }
                let balance = try await s.loyalty.balance(of: member.id).available
                return try views.page(
                    .portal, visitor: v, title: "Redeem \(item.reward.name)?", template: "redeem-confirm",
                    [
                        "id": id, "name": item.reward.name, "price": Format.number(item.reward.pointsPrice), "balance": Format.number(balance),
                        "after": Format.number(balance - item.reward.pointsPrice), "validity": item.reward.validityDays,
                        "unavailable": item.unavailable as Any,
                    ])
            }
        }
        router.post("/portal/rewards/:id") { request, context in
            try await console.posted(request, context, .portal) { v, _ in
                guard let id = Int64(try context.parameters.require("id")), let member = try await membership(v) else {
                    return try await rewards(v, error: "That reward is not available.")
                }
                do {
                    let voucher = try await s.loyalty.redeem(reward: RewardID(id), for: member.id, idempotencyKey: nil)
                    return try await rewards(v, flash: "Redeemed: your voucher code is \(voucher.code).")
                } catch { return try await rewards(v, error: explain(error)) }
            }
        }
        // A member cancels a voucher they have not used: the points come back to them, with
        // their original expiry, and the unit goes back to stock.
        router.post("/portal/vouchers/:id/cancel") { request, context in
            try await console.posted(request, context, .portal) { v, form in
                guard let id = Int64(try context.parameters.require("id")), let member = try await membership(v),
                    let voucher = try? await s.loyalty.voucher(VoucherID(id)), voucher.memberID == member.id
                else { return try await rewards(v, error: "That voucher is not one of yours.") }
                guard form["confirm"] == "yes" else { return try await rewards(v, error: "Tick the box to confirm cancelling the voucher.") }
                do {
                    let cancelled = try await s.loyalty.cancel(voucher: voucher.id)
                    return try await rewards(
                        v, flash: "Voucher \(cancelled.code) cancelled: \(Format.number(cancelled.points)) points are back in your balance.")
                } catch { return try await rewards(v, error: explain(error)) }
            }
        }
        router.get("/portal/promotions") { request, _ in
            try await console.signedIn(request, .portal) { v in try await promotions(v) }
        }
        router.post("/portal/promotions/:id") { request, context in
            try await console.posted(request, context, .portal) { v, _ in
                guard let id = Int64(try context.parameters.require("id")), let member = try await membership(v) else {
                    return try await promotions(v, error: "That promotion is not open to you.")
                }
                do {
                    try await s.loyalty.enroll(member.id, inPromotion: PromotionID(id))
                    return try await promotions(v, flash: "You have joined the promotion.")
                } catch { return try await promotions(v, error: explain(error)) }
            }
        }
        router.post("/portal/referrals") { request, context in
            try await console.posted(request, context, .portal) { v, form in
                guard let member = try await membership(v) else { return try await promotions(v, error: "Join a program first.") }
                guard let first = form.text("first_name"), let last = form.text("last_name"), let email = form.text("email") else {
                    return try await promotions(v, error: "Give your friend's name and email.")
                }
                do {
                    let friend: CustomerID
                    if case .matched(let id, _) = try await s.customers.match([[CustomerIdentifier(kind: .email, value: email)]]).first {
                        friend = id
                    } else {
                        friend = try await s.customers.create(ProfileDraft(firstName: first, lastName: last, emails: [email])).id
                    }
                    _ = try await s.loyalty.refer(friend, by: member.id)
                    return try await promotions(v, flash: "Thank you: when \(first) joins and makes a first purchase, you both earn bonus points.")
                } catch { return try await promotions(v, error: explain(error)) }
            }
        }
        router.get("/portal/preferences") { request, _ in
            try await console.signedIn(request, .portal) { v in try await preferences(v, flash: nil) }
        }
        // The member's own privacy requests: a copy of their data now (an access request answered
        // at once), and deleting the account (an erasure request the privacy team carries out).
        router.post("/portal/my-data") { request, context in
            try await console.posted(request, context, .portal) { v, _ in
                guard case .member(let id, _) = v.principal else { return Response.redirect(to: "/portal/login") }
                do {
                    let r = try await s.privacy.register(customer: id, kind: .access, channel: "portal", note: "asked in the member portal", by: v.principal.actor)
                    let data = try await s.privacy.export(r.id, by: v.principal.actor)
                    return Response(
                        status: .ok,
                        headers: [
                            .contentType: "application/json", .contentDisposition: "attachment; filename=\"my-data.json\"", .cacheControl: "no-store",
                        ], body: .init(byteBuffer: ByteBuffer(bytes: data)))
                } catch { return try await preferences(v, flash: nil, error: explain(error)) }
            }
        }
        router.post("/portal/delete-account") { request, context in
            try await console.posted(request, context, .portal) { v, form in
                guard case .member(let id, _) = v.principal else { return Response.redirect(to: "/portal/login") }
                guard form["confirm"] == "yes" else {
                    return try await preferences(v, flash: nil, error: "Tick the box to confirm you want your account deleted.")
                }
                do {
                    let r = try await s.privacy.register(
                        customer: id, kind: .erasure, channel: "portal", note: "asked in the member portal", by: v.principal.actor)
                    return try await preferences(
                        v,
                        flash: "We have your request (number \(r.id)) to delete your account and your data. It is carried out by \(Format.date(r.dueAt)) at the latest; until then you can still sign in.")
                } catch { return try await preferences(v, flash: nil, error: explain(error)) }
            }
        }
        router.post("/portal/profile") { request, context in
            try await console.posted(request, context, .portal) { v, form in
                guard case .member(let id, _) = v.principal else { return Response.redirect(to: "/portal/login") }
                do {
                    _ = try await s.customers.update(
                        CustomerID(id),
                        with: ProfileDraft(
                            firstName: form.text("first_name"), lastName: form.text("last_name"), phones: form.text("phone").map { [$0] },
                            language: form.text("language")))
                    return try await preferences(v, flash: "Your profile is saved.")
                } catch { return try await preferences(v, flash: nil, error: explain(error)) }
            }
        }
        router.post("/portal/preferences") { request, context in
            try await console.posted(request, context, .portal) { v, form in
                guard case .member(let id, _) = v.principal else { return Response.redirect(to: "/portal/login") }
                let state = try await s.customers.consents(of: CustomerID(id))
                for (channel, _) in Self.preferenceChannels {
                    let wanted = form[channel.rawValue] == "yes"
                    let current = state.current.first { $0.purpose == .marketing && $0.channel == channel }?.granted
                    if current != wanted {
                        _ = try await s.customers.recordConsent(
                            purpose: .marketing, channel: channel, granted: wanted, source: "member_portal",
                            text: "Offers and news by \(Format.label(channel.rawValue).lowercased())",
                            for: CustomerID(id), by: v.principal.actor)
                    }
                }
                return try await preferences(v, flash: "Your preferences are saved.")
            }
        }
    }

    /// The member's first membership.
    func membership(_ v: Visitor) async throws -> Member? {
        guard case .member(let id, _) = v.principal else { return nil }
        return try await s.loyalty.memberships(of: CustomerID(id)).first
    }

    func join(_ form: Form) async throws -> Response {
        let values: [String: Any] = ["first_name": form["first_name"] ?? "", "last_name": form["last_name"] ?? "", "email": form["email"] ?? ""]
        func again(_ error: String) throws -> Response {
            var v = values
            v["error"] = error
            return try views.page(.portal, visitor: nil, title: "Join the rewards program", template: "join", v, status: .unprocessableContent)
        }
        guard let first = form.text("first_name"), let last = form.text("last_name"), let email = form.text("email"),
            let password = form["password"], password.count >= 8
        else { return try again("Give your name, your email and a password of at least 8 characters.") }
        // One answer whether the email is a member's, a staff user's or an erased person's, and
        // nothing is created when joining is refused.
        let refused = "We could not open an account with this email. If you already have one, sign in instead."
        if case .matched = try await s.customers.match([[CustomerIdentifier(kind: .email, value: email)]]).first { return try again(refused) }
        guard (try? await s.access.loginEmailIsFree(email)) == true else { return try again(refused) }
        do {
            let customer = try await s.customers.create(ProfileDraft(firstName: first, lastName: last, emails: [email]))
            _ = try await s.access.createMemberLogin(customerID: customer.id.rawValue, email: email, password: password)
            if let program = try await s.loyalty.programs().first { _ = try await s.loyalty.enroll(customer.id, in: program.id) }
            _ = try await s.customers.recordConsent(
                purpose: .marketing, channel: .email, granted: form["marketing"] == "yes", source: "member_portal", text: "Offers and news by email",
                for: customer.id, by: "member:\(customer.id)")
            let session = try await s.access.logIn(email: email, password: password, client: RequestOrigin.clientAddress)
            var response = Response.redirect(to: "/portal/")
            response.setCookie(console.sessionCookie(.portal, session.token))
            return response
        } catch CustomerError.erased {
            return try again(refused)
        } catch { return try again(explain(error)) }
    }

    func home(_ v: Visitor, flash: String?) async throws -> Response {
        guard case .member(let id, _) = v.principal else { return Response.redirect(to: "/portal/login") }
        var memberships: [[String: Any]] = []
        for m in try await s.loyalty.memberships(of: CustomerID(id)) {
            memberships.append(try await console.membership(m))
        }
        let name = try await s.customers.customer(CustomerID(id)).displayName
        return try views.page(
            .portal, visitor: v, title: name.isEmpty ? "My points" : "Hello, \(name)", template: "portal",
            ["memberships": memberships, "flash": flash as Any])
    }

    /// A year of points, each line with the balance after it, from the opening to the closing balance.
    func statement(_ v: Visitor, year: Int?) async throws -> Response {
        guard let member = try await membership(v) else {
            return try views.page(.portal, visitor: v, title: "Statement", template: "message", ["message": "Join a program to collect points."])
        }
        let now = s.loyalty.clock.now
        let thisYear = LocalDate(now).year
        // Ten years, like a bank's statements: points can predate the enrolment (history brought
        // over from an earlier system), so the years are not cut at the enrolment date.
        let first = thisYear - 9
        let shown = min(max(year ?? thisYear, first), thisYear)
        let from = LocalDate(year: shown, month: 1, day: 1)!.startOfDay
        let yearEnd = LocalDate(year: shown + 1, month: 1, day: 1)!.startOfDay
        let to = min(yearEnd, now)
        let st = try await s.loyalty.statement(of: member.id, from: from, to: to)
        return try views.page(
            .portal, visitor: v, title: "Statement \(shown)", template: "statement",
            [
                "opening": Format.number(st.opening), "closing": Format.number(st.closing), "from": Format.date(from),
                "to": to == yearEnd ? Format.lastDay(endingBefore: to) : "today, \(Format.date(now))", "rows": WebConsole.statementRows(st), "number": member.number,
                "years": (first...thisYear).reversed().map { ["year": $0, "current": $0 == shown] },
            ])
    }

    func rewards(_ v: Visitor, flash: String? = nil, error: String? = nil) async throws -> Response {
        guard let member = try await membership(v) else {
            return try views.page(.portal, visitor: v, title: "Rewards", template: "message", ["message": "Join a program to collect rewards."])
        }
        let balance = try await s.loyalty.balance(of: member.id)
        let catalogue = try await s.loyalty.catalogue(for: member.id)
        let vouchers = try await s.loyalty.vouchers(of: member.id)
        let names = Dictionary(catalogue.map { ($0.reward.id, $0.reward.name) }, uniquingKeysWith: { a, _ in a })
        return try views.page(
            .portal, visitor: v, title: "Rewards", template: "rewards",
            [
                "flash": flash as Any, "error": error as Any, "points": Format.number(balance.available),
                "rewards": catalogue.map {
                    [
                        "id": $0.reward.id.rawValue, "name": $0.reward.name, "price": Format.number($0.reward.pointsPrice),
                        "available": $0.unavailable == nil, "reason": $0.unavailable.map { $0.prefix(1).uppercased() + $0.dropFirst() + "." } ?? "",
                        "description": $0.reward.description as Any, "image": $0.reward.imageURL as Any,
                    ] as [String: Any]
                },
                "vouchers": vouchers.map {
                    [
                        "id": $0.id.rawValue, "code": $0.code, "reward": names[$0.rewardID] ?? "a reward no longer offered",
                        "status": Format.label($0.status.rawValue), "until": Format.date($0.expiresAt), "points": Format.number($0.points),
                        "cancellable": $0.status == .issued && $0.expiresAt > s.loyalty.clock.now && $0.points > 0,
                    ] as [String: Any]
                },
            ])
    }

    func promotions(_ v: Visitor, flash: String? = nil, error: String? = nil) async throws -> Response {
        guard let member = try await membership(v) else {
            return try views.page(
                .portal, visitor: v, title: "Promotions", template: "message", ["message": "Join a program to take part in promotions."])
        }
        let now = s.loyalty.clock.now
        let joined = try await s.loyalty.enrolments(of: member.id)
        let running = try await s.loyalty.promotions(of: member.programID, runningBetween: now, and: now.addingTimeInterval(1))
        func row(_ p: Promotion) -> [String: Any] {
            [
                "id": p.id.rawValue, "name": p.name, "action": AdminPages.describe(p.action), "until": Format.lastDay(endingBefore: p.endsAt),
                "enrolled": joined.contains(p.id), "conditions": p.criteria.map { _ in "On qualifying purchases" } ?? "On every purchase",
            ]
        }
        return try views.page(
            .portal, visitor: v, title: "Promotions", template: "promotions",
            [
                "flash": flash as Any, "error": error as Any,
                "promotions": running.filter(\.requiresEnrolment).map(row),
                // Automatic offers apply without joining: members see them too.
                "automatic": running.filter { !$0.requiresEnrolment && $0.approval == .approved }.map(row),
            ])
    }

    func preferences(_ v: Visitor, flash: String?, error: String? = nil) async throws -> Response {
        guard case .member(let id, _) = v.principal else { return Response.redirect(to: "/portal/login") }
        let state = try await s.customers.consents(of: CustomerID(id))
        let me = try await s.customers.customer(CustomerID(id)).profile
        return try views.page(
            .portal, visitor: v, title: "Profile and preferences", template: "preferences",
            [
                "flash": flash as Any, "error": error as Any, "firstName": me.firstName ?? "", "lastName": me.lastName ?? "",
                "phone": me.phones.first?.value ?? "", "language": me.language ?? "", "email": me.emails.first?.value ?? "",
                "channels": Self.preferenceChannels.map { channel, label in
                    ["channel": channel.rawValue, "label": label, "granted": state.allows(.marketing, on: channel)] as [String: Any]
                },
            ])
    }
}

/// The partner portal: a partner's key signs in; what it may do follows the key's scopes.
struct PartnerPages: Sendable {
    let console: WebConsole
    var views: Views { console.views }
    var s: WebConsole.Services { console.services }

    func register(on router: Router<WebRequestContext>) {
        LoginPages(console: console, site: .partners).register(on: router)
        router.get("/partners/") { request, _ in
            try await console.signedIn(request, .partners) { v in
                guard let query = request.uri.queryParameters["member"].map(String.init)?.trimmingCharacters(in: .whitespaces), !query.isEmpty else {
                    return try await page(v)
                }
                guard v.principal.scopes.contains(.customersLookup) else {
                    return try await page(v, error: "This sign-in may not look members up.")
                }
                guard let (customer, member) = try await findMember(query) else {
                    return try await page(
                        v, error: "No member matches \u{201C}\(query.prefix(80))\u{201D}. Try the card or membership number, the email, or the phone with its area code.")
                }
                var found: [String: Any] = ["id": customer.id.rawValue, "name": customer.displayName, "isMember": member != nil]
                if let member {
                    found["number"] = member.number
                    found["tier"] = member.tier ?? "—"
                    found["points"] = Format.number(try await s.loyalty.balance(of: member.id).available)
                }
                return try await page(v, found: found)
            }
        }
        registerTill(on: router)
        router.get("/partners/receipts") { request, _ in
            try await console.signedIn(request, .partners) { v in
                let q = request.uri.queryParameters["receipt"].map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
                return try await page(v, receipt: q.isEmpty ? nil : q)
            }
        }
        router.post("/partners/members") { request, context in
            try await console.posted(request, context, .partners) { v, form in
                guard v.principal.can(.membersEnroll) else { return try await page(v, error: "This key may not enrol members.") }
                guard let id = Int64(form["customer"] ?? ""), let program = try await s.loyalty.programs().first else {
                    return try await page(v, error: "Find the customer first.")
                }
                do {
                    let m = try await s.loyalty.enroll(CustomerID(id), in: program.id)
                    return try await page(v, flash: "Enrolled in \(program.name): membership number \(m.number).")
                } catch { return try await page(v, error: explain(error)) }
            }
        }
        router.post("/partners/transactions") { request, context in
            try await console.posted(request, context, .partners) { v, form in
                guard v.principal.can(.transactionsWrite), let partner = v.principal.partnerCode else {
                    return try await page(v, error: "This key may not submit transactions.")
                }
                guard let id = form.text("transaction_id"), let member = form.text("member"), let amount = form.text("amount"),
                    let minor = Money.parseMinorUnits(Substring(amount), currency: s.customers.defaultCurrency), minor > 0
                else { return try await page(v, error: "Give the receipt number, the member's card, email or phone, and the amount (e.g. 25.90).") }
                // A partner records purchases at its own outlets only (checked by the intake; its statement counts them).
                guard let (terms, party) = try await party(partner) else { return try await page(v, error: "Your partner terms are not set up.") }
                let store = form.text("store")?.uppercased() ?? terms.outlets.first ?? partner
                // Whatever the cashier has in hand: a card or membership number, an email or a phone in any format.
                var identifiers = [IdentifierKind.card, .email, .phone].map { CustomerIdentifier(kind: $0, value: member) }
                if let (customer, _) = try await findMember(member) {
                    identifiers = [CustomerIdentifier(kind: .customerID, value: String(customer.id.rawValue))]
                }
                do {
                    let (outcome, accruals) = try await s.intake.submit(
                        TransactionDetails(
                            externalID: "\(partner):\(id)", occurredAt: s.customers.clock.now,
                            amount: Money(minorUnits: minor, currency: s.customers.defaultCurrency),
                            store: store, channel: .store),
                        identifiers: identifiers, by: party)
                    switch outcome {
                    case .recordedTransaction(let t, _):
                        let points = accruals.compactMap(\.accrual?.total).reduce(0, +)
                        let name = (try? await s.customers.customer(t.customerID).displayName) ?? "The member"
                        return try await page(v, flash: "Receipt \(id) recorded: \(name) earned \(Format.number(points)) points.")
                    case .duplicateTransaction: return try await page(v, flash: "Receipt \(id) was recorded before; nothing changed.")
                    case .unmatched: return try await page(v, error: "No member matches '\(member)'; the receipt is kept until it is linked.")
                    case .recordedInteraction: return try await page(v)
                    }
                } catch { return try await page(v, error: explain(error)) }
            }
        }
    }

    /// The partner's terms and the party it acts as (its outlets and the rewards it honours); nil without terms.
    func party(_ partner: String) async throws -> (Partner, Party)? {
        guard let terms = try? await s.partners.partner(partner) else { return nil }
        return (terms, Party.partner(code: terms.code, outlets: Set(terms.outlets), rewards: Set(terms.rewards)))
    }

    /// The customer a cashier means: by card, email or phone in any format (the partner rule),
    /// or by a membership or loyalty card number.
    func findMember(_ text: String) async throws -> (Customer, Member?)? {
        if let c = try await s.customers.lookUpForPartner(text).first {
            return (c, try await s.loyalty.memberships(of: c.id).first)
        }
        // Voucher codes also lead to their holder in the console; a till finds members by their own numbers only.
        let typed = text.uppercased().filter { $0.isLetter || $0.isNumber }
        guard typed.count >= 6 else { return nil }
        for m in try await s.loyalty.members(holding: text) {
            let cards = try await s.loyalty.cards(of: m.id).map { $0.number.uppercased().filter { $0.isLetter || $0.isNumber } }
            guard m.number.uppercased() == typed || cards.contains(typed) else { continue }
            if let c = try? await s.customers.customer(m.customerID) { return (c, m) }
        }
        return nil
    }

    func registerTill(on router: Router<WebRequestContext>) {
        // A return against one of the partner's receipts: the points it earned are taken back.
        router.post("/partners/returns") { request, context in
            try await console.posted(request, context, .partners) { v, form in
                guard v.principal.can(.transactionsWrite), let partner = v.principal.partnerCode else {
                    return try await page(v, error: "This sign-in may not record returns.")
                }
                guard let original = form.text("original"), let id = form.text("return_id"), let amount = form.text("amount"),
                    let minor = Money.parseMinorUnits(Substring(amount), currency: s.customers.defaultCurrency), minor > 0
                else { return try await page(v, error: "Give the original receipt number, the return's number and the amount refunded (e.g. 12.50).") }
                guard let (terms, party) = try await party(partner) else { return try await page(v, error: "Your partner terms are not set up.") }
                guard let purchase = try await s.customers.transaction(externalID: "\(partner):\(original)") else {
                    return try await page(v, error: "No receipt \(original) at your outlets.")
                }
                do {
                    let (_, accruals) = try await s.intake.submit(
                        TransactionDetails(
                            externalID: "\(partner):\(id)", kind: .return, occurredAt: s.customers.clock.now,
                            amount: Money(minorUnits: minor, currency: s.customers.defaultCurrency), store: purchase.details.store ?? terms.outlets.first,
                            channel: .store, originalExternalID: "\(partner):\(original)"),
                        identifiers: [CustomerIdentifier(kind: .customerID, value: String(purchase.customerID.rawValue))], by: party)
                    let taken = accruals.compactMap(\.clawBack).map { $0.taken + $0.debt }.reduce(0, +)
                    let name = (try? await s.customers.customer(purchase.customerID).displayName) ?? "the member"
                    return try await page(v, flash: "Return \(id) recorded against receipt \(original): \(Format.number(taken)) points taken back from \(name).")
                } catch { return try await page(v, error: explain(error)) }
            }
        }
        // A voucher the member shows at the till, honoured by its code: only vouchers of rewards this partner honours.
        router.post("/partners/vouchers") { request, context in
            try await console.posted(request, context, .partners) { v, form in
                guard v.principal.can(.vouchersRedeem), let partner = v.principal.partnerCode else {
                    return try await page(v, error: "This sign-in may not honour vouchers.")
                }
                guard let code = form.text("code") else { return try await page(v, error: "Type the voucher's code.") }
                guard let (_, party) = try await party(partner) else { return try await page(v, error: "Your partner terms are not set up.") }
                do {
                    let voucher = try await s.loyalty.voucher(code: code)
                    let used = try await s.loyalty.use(voucher: voucher.id, by: party)
                    let reward = try await s.loyalty.reward(used.rewardID)
                    let member = try await s.loyalty.member(used.memberID)
                    let name = (try? await s.customers.customer(member.customerID).displayName) ?? "the member"
                    return try await page(v, flash: "Voucher \(used.code) honoured: give \(name) \(reward.name).")
                } catch { return try await page(v, error: explain(error)) }
            }
        }
    }

    func page(_ v: Visitor, flash: String? = nil, error: String? = nil, found: [String: Any]? = nil, receipt: String? = nil) async throws
        -> Response
    {
        guard let partner = v.principal.partnerCode else { return Response.redirect(to: "/partners/login") }
        // Its receipts, when it has partner terms (its outlets).
        var receipts: [[String: Any]]? = nil
        do {
            receipts = try await s.partners.receipts(partner, reference: receipt).map {
                [
                    "reference": $0.reference.hasPrefix("\(partner.uppercased()):")
                        ? String($0.reference.dropFirst(partner.count + 1)) : $0.reference,
                    "when": Format.time($0.at), "amount": Format.money(minorUnits: $0.amount, currency: s.customers.defaultCurrency),
                    "kind": $0.isReturn ? "return" : "purchase", "store": $0.store, "points": Format.number($0.points),
                ]
            }
        } catch PartnerError.notFound {}
        return try views.page(
            .partners, visitor: v, title: "Transactions", template: "partner",
            [
                "flash": flash as Any, "error": error as Any, "canSubmit": v.principal.can(.transactionsWrite), "partner": partner,
                "canHonour": v.principal.can(.vouchersRedeem),
                "found": found as Any, "canEnrol": v.principal.can(.membersEnroll), "receipts": receipts ?? [], "hasTerms": receipts != nil,
                "receipt": receipt ?? "",
                "searchedReceipt": receipt != nil,
                "canLookUp": v.principal.scopes.contains(.customersLookup),
                "currency": s.customers.defaultCurrency,
            ])
    }
}
