import Access
import Customers
import Foundation
import Hummingbird
import Loyalty
import SharedModels

/// What an agent does for the customer on the line, from the Customer 360: correct their
/// details, enrol them, redeem a reward, issue, block or replace a card, record a consent or a
/// do-not-contact. Each checks the agent's permission and the membership's owner, and answers
/// on the 360 with what was done (or why not).
struct MemberServicePages: Sendable {
    let console: WebConsole
    var s: WebConsole.Services { console.services }
    var pages: ConsolePages { ConsolePages(console: console) }

    func register(on router: Router<WebRequestContext>) {
        router.post("/console/customers/:id/service/:task") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such customer") }
                let customer = CustomerID(id)
                let task = try context.parameters.require("task")
                do {
                    let done = try await perform(task, for: customer, form: form, by: v)
                    guard let done else { return try pages.forbidden(v) }
                    return try await pages.customer(v, id, flash: done)
                } catch let error as PageNotFound {
                    throw error
                } catch {
                    return try await pages.customer(v, id, error: explain(error))
                }
            }
        }
    }

    /// The member of this customer with the raw id `raw` (a form's field), or a sentence why not.
    func member(_ raw: String?, of customer: CustomerID) async throws -> Member {
        guard let raw, let n = Int64(raw), let m = try await s.loyalty.memberships(of: customer).first(where: { $0.id.rawValue == n }) else {
            throw ServiceRefusal("Choose one of this customer's memberships.")
        }
        return m
    }

    /// Performs one task; nil when the visitor's role may not.
    func perform(_ task: String, for customer: CustomerID, form: Form, by v: Visitor) async throws -> String? {
        let p = v.principal
        switch task {
        case "profile":
            guard p.can(.customersWrite) else { return nil }
            var draft = ProfileDraft()
            draft.firstName = form.text("first_name")
            draft.lastName = form.text("last_name")
            draft.birthDate = form.text("birth_date")
            if let email = form.text("email") { draft.emails = [email] }
            if let phone = form.text("phone") { draft.phones = [phone] }
            if let line1 = form.text("line1") {
                draft.addresses = [
                    ProfileDraft.AddressDraft(
                        line1: line1, line2: form.text("line2"), postalCode: form.text("postal_code"), city: form.text("city"), country: form.text("country"))
                ]
            }
            _ = try await s.customers.update(customer, with: draft)
            return "Details saved."
        case "enrol":
            guard p.can(.membersEnroll) else { return nil }
            guard let raw = form["program"], let n = Int64(raw) else { throw ServiceRefusal("Choose a program.") }
            let program = try await s.loyalty.program(ProgramID(n))
            let member = try await s.loyalty.enroll(customer, in: program.id)
            return "Enrolled in \(program.name): membership number \(member.number)."
        case "redeem":
            guard p.can(.pointsRedeem) else { return nil }
            let member = try await member(form["member"], of: customer)
            guard let raw = form["reward"], let n = Int64(raw) else { throw ServiceRefusal("Choose a reward.") }
            let reward = try await s.loyalty.reward(RewardID(n))
            let voucher = try await s.loyalty.redeem(reward: reward.id, for: member.id, idempotencyKey: nil)
            return "\(reward.name) redeemed for \(Format.number(voucher.points)) points: voucher code \(voucher.code), valid until \(Format.date(voucher.expiresAt))."
        case "card":
            guard p.can(.membersEnroll) else { return nil }
            let member = try await member(form["member"], of: customer)
            let card = try await s.loyalty.issueCard(to: member.id, fee: nil, validityYears: nil)
            return "Card \(card.number) issued."
        case "block-card", "replace-card":
            guard p.can(.customersWrite) else { return nil }
            let member = try await member(form["member"], of: customer)
            guard let raw = form["card"], let n = Int64(raw),
                try await s.loyalty.cards(of: member.id).contains(where: { $0.id.rawValue == n })
            else { throw ServiceRefusal("Choose one of this member's cards.") }
            let reason = form.text("reason") ?? (task == "block-card" ? "reported lost by the member" : "replaced at the member's request")
            if task == "block-card" {
                let card = try await s.loyalty.block(card: CardID(n), reason: reason)
                return "Card \(card.number) blocked: it no longer identifies the member."
            }
            let card = try await s.loyalty.replace(card: CardID(n), reason: reason)
            return "A new card \(card.number) replaces the old one."
        case "consent":
            guard p.can(.consentsWrite) else { return nil }
            guard let purpose = form["purpose"].flatMap(Purpose.init(rawValue:)), let channel = form["channel"].flatMap(Customers.Channel.init(rawValue:)),
                let answer = form["granted"], answer == "yes" || answer == "no"
            else { throw ServiceRefusal("Choose a purpose, a channel and the customer's answer.") }
            _ = try await s.customers.recordConsent(
                purpose: purpose, channel: channel, granted: answer == "yes", source: "call", text: form.text("text"), for: customer, by: p.actor)
            return "Recorded: \(Format.label(purpose.rawValue).lowercased()) by \(Format.label(channel.rawValue).lowercased()) — \(answer)."
        case "link-purchase":
            // A purchase that found no one (a mistyped card, no card at all): the agent links it by its receipt
            // number, and it earns its points as if it had matched on arrival.
            guard p.can(.customersWrite) else { return nil }
            guard let receipt = form.text("receipt") else { throw ServiceRefusal("Give the receipt number.") }
            guard let item = try await s.customers.unmatchedTransaction(receipt: receipt) else {
                throw ServiceRefusal("No purchase with receipt \(receipt.prefix(64)) is waiting to be linked; it may have found its customer already.")
            }
            let (_, results) = try await s.intake.link(item.id, to: customer)
            let points = results.compactMap(\.accrual?.total).reduce(0, +)
            return "Receipt \(receipt) is now this customer's" + (points > 0 ? ": \(Format.number(points)) points earned." : ".")
        case "do-not-contact":
            guard p.can(.consentsWrite) else { return nil }
            guard let channel = form["channel"].flatMap(Customers.Channel.init(rawValue:)) else { throw ServiceRefusal("Choose a channel.") }
            _ = try await s.customers.block(channel, reason: form.text("reason") ?? "asked on a call", for: customer, by: p.actor)
            return "Do not contact by \(Format.label(channel.rawValue).lowercased()) from now on."
        default:
            throw PageNotFound(title: "Not found")
        }
    }
}

/// A member-service task refused before it reached the domain, with the sentence to show.
struct ServiceRefusal: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
