import App
import Demo
import Interchange
import ArgumentParser
import Foundation
import Sales
import SharedModels

/// `patron sales …`: the pipeline and forecast, open opportunities and key accounts, for a
/// weekly sales meeting or a spreadsheet.
struct SalesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sales", abstract: "Sales: the pipeline and forecast, opportunities, key accounts.",
        subcommands: [PipelineCommand.self, Opportunities.self, KeyAccounts.self])

    struct PipelineCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pipeline", abstract: "Open pipeline by stage and expected close month, weighted, and what was won and lost lately.")
        @OptionGroup var db: DatabaseOption
        @Option(help: "Only this rep's (an email).") var owner: String?
        @Option(help: "The won/lost window in days.") var days = 90
        @Flag(help: "Print one JSON object.") var json = false

        func run() async throws {
            let p = try await db.with { patron in
                do { return try await patron.sales.pipeline(owner: owner, days: days) } catch let e as SalesError { throw fail("--\(e)") }
            }
            func figure(_ f: Pipeline.Figure) -> [String: Any] { ["count": f.count, "amount_minor": f.amount, "weighted_minor": f.weighted] }
            if json {
                let object: [String: Any] = [
                    "today": p.today.description, "days": p.days,
                    "sections": p.sections.map { s in
                        [
                            "currency": s.currency, "open": figure(s.open), "overdue": figure(s.overdue), "won": figure(s.won),
                            "lost": figure(s.lost),
                            "win_rate": s.winRate as Any, "average_days_to_win": s.averageDaysToWin as Any,
                            "stages": s.stages.map { ["stage": $0.stage.rawValue, "figure": figure($0.figure)] as [String: Any] },
                            "forecast": s.forecast.map { ["month": $0.month, "figure": figure($0.figure)] as [String: Any] },
                            "owners": s.owners.map {
                                ["owner": $0.owner, "open": figure($0.open), "won": figure($0.won), "lost": figure($0.lost)] as [String: Any]
                            },
                        ] as [String: Any]
                    },
                ]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                return
            }
            if p.sections.isEmpty { print("no opportunities") }
            for s in p.sections {
                let m = { (v: Int64) in Money(minorUnits: v, currency: s.currency).description }
                print(
                    "== \(s.currency): open \(s.open.count) for \(m(s.open.amount)), weighted \(m(s.open.weighted)); \(s.overdue.count) past expected close"
                )
                print("stage\tdeals\tamount\tweighted")
                for (stage, f) in s.stages { print("\(stage.rawValue)\t\(f.count)\t\(m(f.amount))\t\(m(f.weighted))") }
                print("month\tdeals\tamount\tweighted")
                for (month, f) in s.forecast { print("\(month)\t\(f.count)\t\(m(f.amount))\t\(m(f.weighted))") }
                let rate = s.winRate.map { String(format: "%.1f%%", $0 * 100) } ?? "-"
                print("last \(p.days) days: won \(s.won.count) for \(m(s.won.amount)), lost \(s.lost.count); win rate \(rate)")
            }
        }
    }

    struct Opportunities: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Opportunities, open ones by expected close date (tab-separated: id, stage, amount, probability, expected close, owner, name).")
        @OptionGroup var db: DatabaseOption
        @Option(help: "Only this rep's (an email).") var owner: String?
        @Option(help: "open (default), closed, all, or one stage.") var stage = "open"
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            let stages: [Opportunity.Stage]
            switch stage {
            case "open": stages = Opportunity.Stage.open
            case "closed": stages = [.won, .lost]
            case "all": stages = []
            default:
                guard let s = Opportunity.Stage(rawValue: stage) else {
                    throw ValidationError(
                        "--stage: '\(stage)' is not open, closed, all or one of \(Opportunity.Stage.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                stages = [s]
            }
            let list = try await db.with { try await $0.sales.opportunities(OpportunityFilter(owner: owner, stages: stages), limit: limit) }
            for o in list {
                print("\(o.id)\t\(o.stage.rawValue)\t\(o.amount)\t\(o.probability)%\t\(o.expectedClose)\t\(o.owner)\t\(o.name)")
            }
        }
    }

    struct KeyAccounts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "key-accounts",
            abstract:
                "A-class accounts (tab-separated: id, name, manager, contacts, revenue 12 months, open deals, pipeline, weighted, won 12 months).")
        @OptionGroup var db: DatabaseOption
        @Option(help: "Only this key account manager's (an email).") var manager: String?

        func run() async throws {
            let accounts = try await db.with { try await $0.sales.keyAccounts(manager: manager) }
            func list(_ m: [Money]) -> String { m.isEmpty ? "-" : m.map(\.description).joined(separator: ", ") }
            for a in accounts {
                print(
                    "\(a.account)\t\(a.name)\t\(a.manager ?? "-")\t\(a.contacts)\t\(list(a.revenue))\t\(a.openOpportunities)\t\(list(a.pipeline))\t\(list(a.weighted))\t\(list(a.won))"
                )
            }
        }
    }
}
