import App
import Demo
import Interchange
import ArgumentParser
import Campaigns
import Foundation
import SharedModels

/// `patron campaigns …`: plan, launch, run and read campaigns from the command line.
struct Campaigns: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Campaigns: plan from a JSON file, launch, run the outbox, read results, what-if, call tasks and leads.",
        subcommands: [List.self, Create.self, Launch.self, Run.self, Results.self, WhatIfCommand.self, Preview.self, Leads.self])

    static func money(_ v: Double, _ currency: String) -> String { String(format: "%.2f %@", v, currency) }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every campaign, newest first.")
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            for c in try await db.with({ try await $0.campaigns.campaigns() }) {
                let queued = c.waves.map { "\($0.queued)" }.joined(separator: "+")
                print(
                    "\(c.id)\t\(c.status.rawValue)\t\(c.plan.name)\t\(c.plan.waves.map(\.channel.rawValue).joined(separator: ","))\t\(queued)\t\(c.owner)"
                )
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Plan a campaign from a JSON file (the document POST /v1/campaigns takes).")
        @OptionGroup var db: DatabaseOption
        @Option(help: "The plan, as JSON.") var plan: String
        @Option(help: "Who owns it (a staff email).") var owner: String

        func run() async throws {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: plan)) } catch { throw fail("\(plan): cannot be read") }
            let c = try await db.with { patron in
                try await reporting {
                    try await patron.campaigns.create(
                        try CampaignPlanFile.decode(data, file: plan, defaultCurrency: patron.settings.defaultCurrency), owner: owner)
                }
            }
            print("campaign \(c.id) planned (draft)")
        }
    }

    struct Launch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Freeze the audience and control group and prepare the waves due today.")
        @OptionGroup var db: DatabaseOption
        @Argument var id: Int64

        func run() async throws {
            let c = try await db.with { patron in try await reporting { try await patron.campaigns.launch(CampaignID(id)) } }
            for w in c.waves {
                let suppressed = w.suppressed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                print("wave \(w.number): \(w.queued) messages queued; suppressed: \(suppressed.isEmpty ? "none" : suppressed)")
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One pass of the campaign job: due waves prepared, the outbox sent through the configured channels, responses attributed.")
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let r = try await db.with { patron in try await reporting { try await patron.runCampaigns() } }
            print("\(r.sent) sent, \(r.bounced) bounced, \(r.retried) to retry")
        }
    }

    struct Results: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "P&L against the control group, and response by wave and by value tier.")
        @OptionGroup var db: DatabaseOption
        @Argument var id: Int64

        func run() async throws {
            let (c, pnl, b) = try await db.with { patron in
                try await reporting {
                    let c = try await patron.campaigns.campaign(CampaignID(id))
                    let (pnl, b) = try await patron.campaigns.breakdown(c.id)
                    return (c, pnl, b)
                }
            }
            let cur = pnl.currency
            print("\(c.plan.name) (\(c.status.rawValue))")
            for (label, g) in [("target", pnl.target), ("control", pnl.control)] {
                print(
                    String(format: "  %@: %d customers, %d responders (%.2f%%), revenue ", label, g.customers, g.responders, g.responseRate * 100)
                        + Campaigns.money(g.revenue, cur))
            }
            print(
                String(
                    format: "  response lift %.2f points (95%% CI %.2f to %.2f)", pnl.responseLift.value * 100, pnl.responseLift.low * 100,
                    pnl.responseLift.high * 100))
            print(
                "  incremental revenue \(Campaigns.money(pnl.incrementalRevenue.value, cur)) (95% CI \(Campaigns.money(pnl.incrementalRevenue.low, cur)) to \(Campaigns.money(pnl.incrementalRevenue.high, cur)))"
            )
            print("  cost \(Campaigns.money(pnl.cost, cur)); incremental profit \(Campaigns.money(pnl.incrementalProfit.value, cur))")
            if let roi = pnl.roi { print(String(format: "  ROI %.2f (95%% CI %.2f to %.2f)", roi.value, roi.low, roi.high)) }
            for w in b.waves {
                print(
                    "  wave \(w.number) \(w.channel.rawValue) day \(w.day): \(w.queued) queued, \(w.suppressed) suppressed, \(w.delivered) delivered, \(w.bounced) bounced, \(w.opened) opened, \(w.clicked) clicked, \(w.purchasers) bought"
                )
            }
        }
    }

    struct WhatIfCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "what-if", abstract: "Expected reach, responders, revenue and cost of a plan before launch.")
        @OptionGroup var db: DatabaseOption
        @Option(help: "The target, in the rule language.") var rule: String
        @Option(help: "A channel of a wave (repeat for several): email, sms, direct_mail, call.") var channel: [String] = ["email"]
        @Option(help: "Control group, percent.") var control: Double = 10
        @Option(help: "Cost per message, minor units (all channels).") var costPerMessage: Int64 = 0
        @Option(help: "Cost per redemption, minor units.") var costPerRedemption: Int64 = 0
        @Option(help: "Points a responder earns.") var points: Int64 = 0
        @Flag(help: "Print a JSON object as the last line.") var json = false

        func run() async throws {
            var channels: [CampaignChannel] = []
            for c in channel {
                guard let ch = CampaignChannel(rawValue: c) else { throw ValidationError("--channel \(c): not email, sms, direct_mail or call") }
                channels.append(ch)
            }
            let perMessage = Dictionary(uniqueKeysWithValues: channels.map { ($0.rawValue, costPerMessage) })
            let w = try await db.with { patron in
                try await reporting {
                    try await patron.campaigns.whatIf(
                        WhatIf.Input(
                            rule: rule, channels: channels, controlPercent: control, offer: costPerRedemption > 0 ? .voucher : .none,
                            costs: CampaignCosts(perMessage: perMessage, perRedemption: costPerRedemption), pointsPerResponder: points,
                            currency: patron.settings.defaultCurrency))
                }
            }
            print("\(w.customers) customers: \(w.target) target, \(w.control) control")
            for ch in channels {
                print(
                    "  \(ch.rawValue): reaches \(w.reach[ch] ?? 0); rates target \(w.rates[ch]!.target) control \(w.rates[ch]!.control) from \(w.rates[ch]!.campaigns) campaigns"
                )
            }
            print(
                String(
                    format: "  expected responders %.0f (%.0f incremental), revenue %.2f (%.2f incremental), cost %.2f, points %.0f (liability %.2f)",
                    w.expectedResponders, w.expectedIncrementalResponders, w.expectedRevenue, w.expectedIncrementalRevenue, w.expectedCost,
                    w.expectedPoints, w.pointsLiability))
            if json {
                let object: [String: Any] = [
                    "customers": w.customers, "target": w.target, "control": w.control, "expected_responders": w.expectedResponders,
                    "expected_incremental_responders": w.expectedIncrementalResponders, "expected_revenue": w.expectedRevenue,
                    "expected_incremental_revenue": w.expectedIncrementalRevenue, "expected_cost": w.expectedCost,
                    "points_liability": w.pointsLiability,
                ]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            }
        }
    }

    struct Preview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A wave's message as one customer would get it.")
        @OptionGroup var db: DatabaseOption
        @Argument var id: Int64
        @Option var wave: Int = 1
        @Option var customer: Int64

        func run() async throws {
            let m = try await db.with { patron in
                try await reporting { try await patron.campaigns.preview(CampaignID(id), wave: wave, customer: customer) }
            }
            print("To: \(m.name) <\(m.address)>")
            if let s = m.subject { print("Subject: \(s)") }
            print("")
            print(m.body)
        }
    }

    struct Leads: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make sales leads of a campaign's responders, and list them.")
        @OptionGroup var db: DatabaseOption
        @Argument var id: Int64
        @Option(help: "Who the leads are for (a staff email).") var owner: String

        func run() async throws {
            let (n, leads) = try await db.with { patron in
                try await reporting {
                    (
                        try await patron.campaigns.createLeads(CampaignID(id), owner: owner),
                        try await patron.campaigns.leads(campaign: CampaignID(id), limit: 1_000)
                    )
                }
            }
            print("\(n) new leads")
            for l in leads { print("\(l.id)\t\(l.customer)\t\(l.customerName)\t\(l.source)\t\(l.status)") }
        }
    }
}
