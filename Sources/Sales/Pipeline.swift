import Foundation
import SharedModels

/// The sales pipeline, one section per currency (amounts are never added across currencies):
/// open opportunities by stage and by expected close month, weighted by probability; those
/// past their expected close date; and what was won and lost in the window.
public struct Pipeline: Sendable, Equatable {
    public struct Figure: Sendable, Equatable {
        public var count: Int
        /// Minor units.
        public var amount: Int64
        /// Minor units, each opportunity's amount times its probability.
        public var weighted: Int64

        public init(count: Int = 0, amount: Int64 = 0, weighted: Int64 = 0) {
            self.count = count
            self.amount = amount
            self.weighted = weighted
        }

        mutating func add(_ amount: Int64, probability: Int) {
            count += 1
            self.amount += amount
            weighted += Opportunity.weigh(amount, probability)
        }
    }

    public struct OwnerFigures: Sendable, Equatable {
        public var owner: String
        public var open: Figure
        public var won: Figure
        public var lost: Figure
    }

    public struct Section: Sendable, Equatable {
        public var currency: String
        /// Every open stage, in pipeline order, zero when empty.
        public var stages: [(stage: Opportunity.Stage, figure: Figure)]
        /// Open opportunities by expected close month (`2026-12`), earliest first; overdue ones
        /// are in `overdue`, not here.
        public var forecast: [(month: String, figure: Figure)]
        public var open: Figure
        /// Open, and the expected close date has passed: the owner should move the date or close it.
        public var overdue: Figure
        public var won: Figure
        public var lost: Figure
        /// Won over won and lost, by count, in the window; nil when nothing closed.
        public var winRate: Double?
        /// Mean days from creation to winning, in the window.
        public var averageDaysToWin: Double?
        public var owners: [OwnerFigures]

        public static func == (a: Section, b: Section) -> Bool {
            a.currency == b.currency && a.stages.map(\.stage) == b.stages.map(\.stage) && a.stages.map(\.figure) == b.stages.map(\.figure)
                && a.forecast.map(\.month) == b.forecast.map(\.month) && a.forecast.map(\.figure) == b.forecast.map(\.figure) && a.open == b.open
                && a.overdue == b.overdue && a.won == b.won && a.lost == b.lost && a.winRate == b.winRate
                && a.averageDaysToWin == b.averageDaysToWin && a.owners == b.owners
        }
    }

    public var sections: [Section]
    public var today: LocalDate
    /// Start of the window for won and lost.
    public var since: Date
    public var days: Int

    public init(rows: [PipelineRow], today: LocalDate, since: Date, days: Int) {
        self.today = today
        self.since = since
        self.days = days
        var sections: [Section] = []
        for (currency, rows) in Dictionary(grouping: rows, by: \.amount.currency).sorted(by: { $0.key < $1.key }) {
            var stages: [Opportunity.Stage: Figure] = [:]
            var months: [String: Figure] = [:]
            var (open, overdue, won, lost) = (Figure(), Figure(), Figure(), Figure())
            var owners: [String: OwnerFigures] = [:]
            var daysToWin: [Double] = []
            for r in rows {
                let m = r.amount.minorUnits
                var o = owners[r.owner] ?? OwnerFigures(owner: r.owner, open: Figure(), won: Figure(), lost: Figure())
                switch r.stage {
                case .won:
                    won.add(m, probability: 100)
                    o.won.add(m, probability: 100)
                    if let closed = r.closedAt { daysToWin.append(closed.timeIntervalSince(r.createdAt) / 86_400) }
                case .lost:
                    lost.add(m, probability: 0)
                    o.lost.add(m, probability: 0)
                default:
                    open.add(m, probability: r.probability)
                    o.open.add(m, probability: r.probability)
                    stages[r.stage, default: Figure()].add(m, probability: r.probability)
                    if r.expectedClose < today {
                        overdue.add(m, probability: r.probability)
                    } else {
                        months[Self.month(r.expectedClose), default: Figure()].add(m, probability: r.probability)
                    }
                }
                owners[r.owner] = o
            }
            let closed = won.count + lost.count
            sections.append(
                Section(
                    currency: currency, stages: Opportunity.Stage.open.map { ($0, stages[$0] ?? Figure()) },
                    forecast: months.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, open: open, overdue: overdue, won: won, lost: lost,
                    winRate: closed > 0 ? Double(won.count) / Double(closed) : nil,
                    averageDaysToWin: daysToWin.isEmpty ? nil : daysToWin.reduce(0, +) / Double(daysToWin.count),
                    owners: owners.values.sorted { ($1.open.weighted, $0.owner) < ($0.open.weighted, $1.owner) }))
        }
        self.sections = sections
    }

    static func month(_ d: LocalDate) -> String { String(d.description.prefix(7)) }
}

/// An A-class account as its key account manager sees it.
public struct KeyAccount: Sendable, Equatable {
    public var account: Int64
    public var name: String
    public var manager: String?
    public var contacts: Int
    /// Contacts' purchases less returns, last 12 months, per currency.
    public var revenue: [Money]
    public var lastInteraction: Date?
    /// Open opportunities and their amounts and weighted amounts per currency.
    public var openOpportunities: Int
    public var pipeline: [Money]
    public var weighted: [Money]
    /// Won in the last 12 months, per currency.
    public var won: [Money]
    /// The earliest expected close date among the open opportunities.
    public var nextClose: LocalDate?

    public init(row: KeyAccountRow, opportunities: [Opportunity], wonSince: Date) {
        account = row.account
        name = row.name
        manager = row.manager
        contacts = row.contacts
        revenue = row.revenue
        lastInteraction = row.lastInteraction
        let open = opportunities.filter(\.stage.isOpen)
        openOpportunities = open.count
        pipeline = Self.sum(open.map(\.amount))
        weighted = Self.sum(open.map(\.weighted))
        won = Self.sum(opportunities.filter { $0.stage == .won && ($0.closedAt ?? .distantPast) >= wonSince }.map(\.amount))
        nextClose = open.map(\.expectedClose).min()
    }

    static func sum(_ amounts: [Money]) -> [Money] {
        Dictionary(grouping: amounts, by: \.currency).sorted { $0.key < $1.key }.map { c, ms in
            Money(minorUnits: ms.reduce(0) { $0 + $1.minorUnits }, currency: c)
        }
    }
}
