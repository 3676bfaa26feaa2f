import App
import Interchange
import Access
import Campaigns
import Channels
import Customers
import Foundation
import Loyalty
import Partners
import Sales
import SharedModels
import Storage
import Support

/// A realistic, reproducible demo company: "Northwind Outfitters", a US retailer with twelve
/// stores and a web shop.
///
/// People (a third of them in households of two to four sharing a surname and address), some
/// B2B accounts with contacts, consents, two years of purchases with a December peak and a
/// heavy-tailed spend (a fifth of the customers make most of the revenue), returns, service
/// interactions, a few duplicate profiles with typos and a few transactions no one matches.
public struct DemoCompany {
    public let customers: Int
    public let seed: UInt64
    /// The last day of transaction history; two years before it is the first.
    public let until: Date

    public static let adminEmail = "admin@northwind.example"
    public static let adminPassword = "northwind-demo"
    /// The demo member's portal login (password: ``adminPassword``).
    public static let memberEmail = "member@northwind.example"
    /// The café partner's cashier (password: ``adminPassword``); its manager is `manager@cafe.example`.
    public static let cafeCashierEmail = "cashier@cafe.example"

    public init(customers: Int, seed: UInt64, until: Date) {
        self.customers = customers
        self.seed = seed
        self.until = until
    }

    struct Store { let code, city, region, postal: String; let lat, lon: Double }
    static let stores = [
        Store(code: "S01", city: "Seattle", region: "WA", postal: "98101", lat: 47.61, lon: -122.33),
        Store(code: "S02", city: "Portland", region: "OR", postal: "97205", lat: 45.52, lon: -122.68),
        Store(code: "S03", city: "Denver", region: "CO", postal: "80202", lat: 39.74, lon: -104.99),
        Store(code: "S04", city: "Austin", region: "TX", postal: "78701", lat: 30.27, lon: -97.74),
        Store(code: "S05", city: "Chicago", region: "IL", postal: "60601", lat: 41.88, lon: -87.63),
        Store(code: "S06", city: "Minneapolis", region: "MN", postal: "55401", lat: 44.98, lon: -93.27),
        Store(code: "S07", city: "Boston", region: "MA", postal: "02108", lat: 42.36, lon: -71.06),
        Store(code: "S08", city: "New York", region: "NY", postal: "10001", lat: 40.75, lon: -73.99),
        Store(code: "S09", city: "Atlanta", region: "GA", postal: "30303", lat: 33.75, lon: -84.39),
        Store(code: "S10", city: "Miami", region: "FL", postal: "33130", lat: 25.77, lon: -80.19),
        Store(code: "S11", city: "Phoenix", region: "AZ", postal: "85004", lat: 33.45, lon: -112.07),
        Store(code: "S12", city: "San Diego", region: "CA", postal: "92101", lat: 32.72, lon: -117.16),
    ]
    static let firstNames = [
        "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William", "Barbara", "Richard",
        "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark",
        "Ashley", "Wei", "Emily", "Andrew", "Maria", "Joshua", "Michelle", "Kevin", "Amanda", "Brian", "Priya", "Luis", "Fatima", "Hiroshi",
        "Olivia", "Ethan", "Sofia", "Noah", "Ava", "Liam", "Mia", "Lucas", "Chloe",
    ]
    static let lastNames = [
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez",
        "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
        "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
        "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Chen", "Patel", "Kim", "Okafor",
    ]
    static let streets = [
        "Oak", "Maple", "Cedar", "Pine", "Elm", "Lake", "Hill", "Park", "Washington", "Lincoln", "River", "Sunset", "Main", "Church",
    ]
    static let catalogue: [(category: String, products: [(String, Int64)])] = [
        ("outerwear", [("Rain Shell Jacket", 12_900), ("Down Parka", 24_900), ("Fleece Pullover", 5_900)]),
        ("footwear", [("Trail Runner", 11_900), ("Hiking Boot", 17_900), ("Camp Sandal", 4_500)]),
        ("camping", [("Two-Person Tent", 29_900), ("Sleeping Bag", 15_900), ("Camp Stove", 7_900), ("Headlamp", 2_900)]),
        ("accessories", [("Wool Socks", 1_900), ("Beanie", 2_400), ("Water Bottle", 1_800), ("Daypack", 6_900)]),
        ("nutrition", [("Energy Bar Box", 2_400), ("Trail Mix", 899), ("Freeze-Dried Meal", 1_099)]),
    ]
    /// Categories bought together: with this chance a line of the first brings one of the second.
    static let affinity: [String: (String, Double)] = [
        "camping": ("nutrition", 0.6), "footwear": ("accessories", 0.5), "outerwear": ("accessories", 0.3),
    ]
    /// Relative sales by month, January first: a December peak and a summer camping season.
    static let seasonality: [Double] = [0.7, 0.6, 0.8, 0.9, 1.0, 1.2, 1.3, 1.1, 0.9, 0.9, 1.3, 2.0]

    /// At most this many loyalty members, so that even a demo of a million people loads in minutes:
    /// every purchase of a member goes through the real accrual engine.
    static let loyaltyMemberLimit = 2_000

    /// Northwind Rewards: tiers, earning rules and a bonus; members' two years of purchases and
    /// returns accrued in date order through the engine; redemptions; expiry.
    func loadLoyalty(
        into patron: Patron, members: [CustomerID], purchases: [(customer: CustomerID, details: TransactionDetails)], summary: inout Summary,
        log: (String) -> Void
    ) async throws {
        let loyalty = patron.loyalty
        let program = try await loyalty.createProgram(
            code: "NW", name: "Northwind Rewards", valuePerThousandPoints: Money(minorUnits: 1_000, currency: "USD"), expiryMonths: 18,
            pendingDays: 14)
        try await loyalty.configure(
            program.id,
            rules: EarningRules(
                pointsPerUnit: 1, categoryPercent: ["camping": 150], channelPercent: ["web": 120],
                tierPercent: ["Silver": 125, "Gold": 150, "Platinum": 200],
                bonuses: [
                    try BonusRule(
                        name: "Big camping trip", criteria: #"purchase.category == "camping" and purchase.amount >= 300"#, action: .fixed(150)),
                    try BonusRule(
                        name: "Gold double on footwear", criteria: #""footwear" in purchase.categories and member.tier in ["Gold", "Platinum"]"#,
                        action: .percentOfBase(100), cap: 500),
                ], maxPerTransaction: 5_000),
            tiers: try TierPolicy(tiers: [
                .init(name: "Blue", threshold: 0), .init(name: "Silver", threshold: 500), .init(name: "Gold", threshold: 1_500),
                .init(name: "Platinum", threshold: 4_000),
            ]))
        try await loyalty.setMemberOptions(of: program.id, transferLimitPerYear: 2_000, referralPoints: 200)
        let rewards = [
            ("COFFEE", "A coffee at any store", Reward.Kind.product, Int64(150), [String](), Int?.none),
            ("CHARITY", "Plant ten trees", .charity, 500, [], nil),
            ("GIFT10", "$10 gift card", .partnerVoucher, 1_000, [], nil),
            ("LOUNGE", "Members' lounge day pass", .upgrade, 2_000, ["Gold", "Platinum"], 50),
        ]
        // What members read and see of each reward in the portal.
        let shown: [String: (String, String)] = [
            "COFFEE": ("Any size, any blend, at any Northwind store or the café.", "/static/reward-coffee.svg"),
            "CHARITY": ("We plant ten native trees with our reforestation partner in your name.", "/static/reward-trees.svg"),
            "GIFT10": ("A $10 card to spend in store or online within 90 days.", "/static/reward-gift.svg"),
            "LOUNGE": ("A day in the members' lounge at the flagship store: coffee, fitting advice and a quiet corner.", "/static/reward-lounge.svg"),
        ]
        var rewardIDs: [String: RewardID] = [:]
        for (code, name, kind, price, tiers, stock) in rewards {
            let reward = try await loyalty.addReward(
                to: program.id, code: code, name: name, kind: kind, pointsPrice: price, tiers: tiers, stock: stock)
            rewardIDs[code] = reward.id
            if let (text, image) = shown[code] {
                _ = try await loyalty.updateReward(
                    reward.id, name: name, pointsPrice: price, description: text, imageURL: image, stock: stock, active: true)
            }
        }
        // Promotions over the two years of history, so the demo shows every kind at work.
        let first = purchases.map(\.details.occurredAt).min() ?? until
        let year = Calendar.utc.component(.year, from: first)
        func day(_ y: Int, _ m: Int, _ d: Int) -> Date { Calendar.utc.date(from: DateComponents(year: y, month: m, day: d))! }
        var drafts: [PromotionDraft] = [
            PromotionDraft(
                code: "WEB-WELCOME", name: "100 points on your first web order", startsAt: first, endsAt: until.addingTimeInterval(86_400),
                criteria: #"purchase.channel == "web""#, action: .fixed(100), perMemberLimit: 1),
            PromotionDraft(
                code: "GOLD-LOUNGE", name: "A lounge pass for Gold members spending $200", startsAt: first, endsAt: until.addingTimeInterval(86_400),
                criteria: #"member.tier in ["Gold", "Platinum"] and purchase.amount >= 200"#, action: .voucher(rewardCode: "LOUNGE"),
                perMemberLimit: 1),
        ]
        for y in [year, year + 1] {
            drafts.append(
                PromotionDraft(
                    code: "SUMMER-CAMP-\(y)", name: "Double points on camping, summer \(y)", startsAt: day(y, 6, 1), endsAt: day(y, 9, 1),
                    criteria: #"purchase.category == "camping""#, action: .multiplier(percent: 200), priority: 1))
            drafts.append(
                PromotionDraft(
                    code: "BLACK-FRIDAY-\(y)", name: "Triple points, Black Friday week \(y)", startsAt: day(y, 11, 24), endsAt: day(y, 12, 2),
                    action: .multiplier(percent: 300), budgetPoints: 20_000, priority: 10, stacking: .exclusive))
        }
        for draft in drafts { _ = try await loyalty.createPromotion(draft, in: program.id) }
        summary.promotions = drafts.count

        var memberIDs: [CustomerID: MemberID] = [:]
        for customer in members { memberIDs[customer] = try await loyalty.enroll(customer, in: program.id).id }
        summary.members = members.count
        // The first forty members come in pairs: one referred the other, and both earn on the friend's first purchase.
        let ordered = members.compactMap { memberIDs[$0] }
        for pair in stride(from: 0, to: min(40, ordered.count - 1), by: 2) {
            let friend = try await loyalty.member(ordered[pair + 1]).customerID
            _ = try await loyalty.refer(friend, by: ordered[pair])
            summary.referrals += 1
        }
        // Two years of purchases and returns, in date order, through the engine in batches, as an import does.
        let history = purchases.sorted { ($0.details.occurredAt, $0.details.externalID) < ($1.details.occurredAt, $1.details.externalID) }
        for start in stride(from: 0, to: history.count, by: 5_000) {
            try await patron.intake.accrue(batch: Array(history[start..<min(start + 5_000, history.count)]))
        }
        summary.pointsEarned = try await loyalty.verify().memberPoints
        log("loyalty: \(summary.members) members, \(summary.promotions) promotions, \(summary.pointsEarned) points held")
        // Every fifth member with enough points takes a gift card; every tenth gives the voucher back; others used theirs.
        for (index, member) in ordered.enumerated() where index % 5 == 0 {
            guard try await loyalty.balance(of: member).available >= 1_000 else { continue }
            let voucher = try await loyalty.redeem(reward: rewardIDs["GIFT10"]!, for: member, idempotencyKey: "demo-gift-\(member)")
            summary.redemptions += 1
            _ = index % 10 == 0 ? try await loyalty.cancel(voucher: voucher.id) : try await loyalty.use(voucher: voucher.id)
        }
        summary.expiredLots = try await loyalty.expire().count
        _ = try await loyalty.reviewTiers(of: program.id)
    }

    /// What ``load(into:)`` wrote.
    public struct Summary: Sendable, CustomStringConvertible {
        public var customers = 0, households = 0, accounts = 0, transactions = 0, interactions = 0, unmatched = 0
        public var members = 0, pointsEarned: Int64 = 0, redemptions = 0, expiredLots = 0, promotions = 0, referrals = 0, serviceRequests = 0,
            opportunities = 0, campaigns = 0
        public var description: String {
            "\(customers) customers, \(households) households, \(accounts) B2B accounts, \(transactions) transactions, "
                + "\(interactions) interactions, \(unmatched) not matched; \(members) loyalty members held \(pointsEarned) reward and qualifying points after their purchases, "
                + "\(promotions) promotions, \(referrals) referrals, \(redemptions) redemptions, \(expiredLots) lots expired, \(serviceRequests) service requests, \(opportunities) sales opportunities, \(campaigns) finished campaign"
        }
    }

    /// Writes the demo company into an empty database, through the domain's stores, and creates
    /// the demo admin (``adminEmail`` / ``adminPassword``).
    public func load(into patron: Patron, log: (String) -> Void = { _ in }) async throws -> Summary {
        var random = SeededGenerator(seed: seed)
        var summary = Summary()
        // The demo writes its history in bulk, backdated, straight through the customers' storage.
        let store = SQLCustomerStore(database: patron.database)
        let now = until
        let start = until.addingTimeInterval(-730 * 86_400)
        let today = LocalDate(now)

        // People, in households.
        var people: [(profile: Profile, store: Int, weight: Double)] = []
        var householdsPlan: [[Int]] = []
        while people.count < customers {
            let home = Int.random(in: 0..<Self.stores.count, using: &random)
            let shop = Self.stores[home]
            let lastName = Self.lastNames.randomElement(using: &random)!
            let size = Double.random(in: 0..<1, using: &random) < 0.33 ? Int.random(in: 2...4, using: &random) : 1
            let street =
                "\(Int.random(in: 1...9999, using: &random)) \(Self.streets.randomElement(using: &random)!) \(["St", "Ave", "Rd", "Ln"].randomElement(using: &random)!)"
            let postal = String(Int(shop.postal)! + Int.random(in: 0...40, using: &random))
            let postalCode = String(repeating: "0", count: max(0, 5 - postal.count)) + postal
            var members: [Int] = []
            for _ in 0..<min(size, customers - people.count) {
                let first = Self.firstNames.randomElement(using: &random)!
                let n = people.count
                let age = Int.random(in: 18...85, using: &random)
                var profile = Profile(
                    firstName: first, lastName: lastName,
                    birthDate: LocalDate(
                        year: today.year - age, month: Int.random(in: 1...12, using: &random), day: Int.random(in: 1...28, using: &random)),
                    emails: [EmailAddress("\(first).\(lastName).\(n)@example.com")!],
                    addresses: [PostalAddress(line1: street, postalCode: postalCode, city: shop.city, region: shop.region, country: "US")],
                    language: Double.random(in: 0..<1, using: &random) < 0.12 ? "es" : "en",
                    lifeStage: age < 24 ? .student : age < 32 ? .youngAdult : age < 55 ? .family : age < 67 ? .emptyNester : .retired,
                    homeStore: shop.code,
                    location: GeoPoint(
                        latitude: ((shop.lat + Double.random(in: -0.2...0.2, using: &random)) * 1e4).rounded() / 1e4,
                        longitude: ((shop.lon + Double.random(in: -0.2...0.2, using: &random)) * 1e4).rounded() / 1e4))
                if Double.random(in: 0..<1, using: &random) < 0.8 {
                    profile.phones = [PhoneNumber("+1\(Int.random(in: 201...989, using: &random))555\(String(format: "%04d", n % 10_000))")!]
                }
                if Double.random(in: 0..<1, using: &random) < 0.1 { profile.birthDate = nil }
                // Heavy-tailed spend propensity (Pareto, alpha 1.2): the top fifth buys most.
                let weight = min(1 / pow(Double.random(in: 0.0001..<1, using: &random), 1 / 1.2), 60)
                people.append((profile, home, weight))
                members.append(n)
            }
            if members.count > 1 { householdsPlan.append(members) }
        }
        // A few duplicates typed again with a typo, for the data-quality screens.
        for index in stride(from: 7, to: people.count, by: 97) where people.count < customers + customers / 50 {
            var copy = people[index].profile
            copy.firstName = copy.firstName.map { name in
                var letters = Array(name)
                if letters.count > 3 { letters.swapAt(letters.count - 1, letters.count - 2) }
                return String(letters)
            }
            copy.emails = []
            people.append((copy, people[index].store, 0.3))
        }
        var batch: [ImportedCustomer] = []
        for (n, person) in people.enumerated() {
            batch.append(
                ImportedCustomer(id: CustomerID(Int64(n + 1)), profile: person.profile, cards: n % 3 == 0 ? [String(format: "NW%08d", n + 1)] : []))
            if batch.count == 1000 || n == people.count - 1 {
                summary.customers += try await store.upsertCustomers(batch, at: start)
                batch.removeAll()
            }
        }
        log("customers: \(summary.customers)")
        for chunk in stride(from: 0, to: householdsPlan.count, by: 10_000) {
            let batch = householdsPlan[chunk..<min(chunk + 10_000, householdsPlan.count)].enumerated().map { offset, members in
                (name: "\(people[members[0]].profile.lastName!) household \(chunk + offset + 1)", members: members.map { CustomerID(Int64($0 + 1)) })
            }
            summary.households += try await store.insertHouseholds(batch, at: start)
        }
        // B2B accounts: one per 200 people, a global parent for every tenth.
        let companies = ["Summit Guides", "Alpine Schools", "Trailhead Tours", "Basecamp Events", "Ridge Rescue", "Cascade Scouts", "Canyon Lodges"]
        var parent: AccountID?
        for index in 0..<max(1, customers / 200) {
            let accountClass: Account.Class = index % 10 == 0 ? .a : index % 3 == 0 ? .b : .c
            let account = try await store.insertAccount(
                AccountDraft(
                    name: "\(companies[index % companies.count]) \(Self.stores[index % Self.stores.count].city)", accountClass: accountClass,
                    keyAccountManager: accountClass == .a ? "kam@northwind.example" : nil,
                    creditLimit: Money(minorUnits: Int64(accountClass == .a ? 5_000_000 : 1_000_000), currency: "USD"), paymentTermsDays: 30,
                    parentID: index % 10 == 0 ? nil : parent), at: start)
            if index % 10 == 0 { parent = account.id }
            for contact in 0..<2 {
                let customer = CustomerID(Int64((index * 191 + contact * 17) % people.count + 1))
                _ = try await store.attach(customer, role: contact == 0 ? "buyer" : "finance", to: account.id)
            }
            summary.accounts += 1
        }
        // Consents: most agreed to service email, about 60% to marketing email, fewer to SMS.
        var consents: [(customer: CustomerID, consent: Consent)] = []
        for n in stride(from: 0, to: people.count, by: 1) where n % 4 != 3 {
            let id = CustomerID(Int64(n + 1))
            let recordedAt = start.addingTimeInterval(Double(n % 700) * 86_400)
            consents.append(
                (
                    id,
                    Consent(
                        purpose: .marketing, channel: .email, granted: n % 5 < 3, source: "web_form", text: "newsletter-v2", recordedBy: "import",
                        recordedAt: recordedAt)
                ))
            if n % 3 == 0 {
                consents.append(
                    (
                        id,
                        Consent(
                            purpose: .marketing, channel: .sms, granted: true, source: "store", text: "sms-v1", recordedBy: "import",
                            recordedAt: recordedAt)
                    ))
            }
            if consents.count >= 20_000 || n >= people.count - 4 {
                try await store.appendConsents(consents)
                consents.removeAll()
            }
        }
        if !consents.isEmpty { try await store.appendConsents(consents) }
        log("households, accounts and consents written")
        // Two years of purchases.
        let days = 730
        let dayWeights = (0..<days).map { day -> Double in
            let date = start.addingTimeInterval(Double(day) * 86_400)
            let month = LocalDate(date).month
            let weekday = (day + 4) % 7
            return Self.seasonality[month - 1] * (weekday >= 5 ? 1.4 : 1.0)
        }
        let totalWeight = dayWeights.reduce(0, +)
        var cumulative: [Double] = []
        var running = 0.0
        for weight in dayWeights {
            running += weight / totalWeight
            cumulative.append(running)
        }
        var rows: [(customer: CustomerID, details: TransactionDetails)] = []
        // Members are the first 70% of every ten people, up to a limit that keeps the demo quick.
        let isMember = { (n: Int) in n % 10 < 7 && n < Self.loyaltyMemberLimit * 10 / 7 }
        var memberPurchases: [(customer: CustomerID, details: TransactionDetails)] = []
        var sequence = 0
        for (n, person) in people.enumerated() where person.weight > 0.5 {
            let purchases = Int((person.weight * 2.5).rounded(.down))
            // Buy till you die: each customer starts in the first 500 days and stays for an
            // exponential lifetime (longer for heavier buyers, shorter for students), so recency,
            // lifetime value and churn have something real to find.
            let joined = Int.random(in: 0..<500, using: &random)
            let student = person.profile.lifeStage == .student
            let meanLife = 240 * (1 + min(person.weight, 20) / 4) * (student ? 0.5 : 1)
            let life = -meanLife * Foundation.log(Double.random(in: 0.0001..<1, using: &random))
            let left = min(days - 1, joined + max(30, Int(life)))
            let low = joined == 0 ? 0 : cumulative[joined - 1]
            let high = cumulative[left]
            for _ in 0..<purchases {
                sequence += 1
                let u = low + Double.random(in: 0..<1, using: &random) * (high - low)
                var low = 0, high = days - 1
                while low < high {
                    let mid = (low + high) / 2
                    if cumulative[mid] < u { low = mid + 1 } else { high = mid }
                }
                let when = start.addingTimeInterval(Double(low) * 86_400 + Double(Int.random(in: 9 * 3600...20 * 3600, using: &random)))
                let web = Double.random(in: 0..<1, using: &random) < 0.3
                var lines: [TransactionDetails.Line] = []
                for _ in 0..<Int.random(in: 1...(person.weight > 5 ? 5 : 3), using: &random) {
                    let group = Self.catalogue.randomElement(using: &random)!
                    let product = group.products.randomElement(using: &random)!
                    let quantity = Double.random(in: 0..<1, using: &random) < 0.85 ? 1 : Int.random(in: 2...3, using: &random)
                    lines.append(.init(product: product.0, category: group.category, quantity: quantity, amount: product.1 * Int64(quantity)))
                    // What goes together: campers buy food for the trail, boots come with socks.
                    if let (partner, chance) = Self.affinity[group.category], Double.random(in: 0..<1, using: &random) < chance,
                        let extra = Self.catalogue.first(where: { $0.category == partner })?.products.randomElement(using: &random)
                    {
                        lines.append(.init(product: extra.0, category: partner, quantity: 1, amount: extra.1))
                    }
                }
                let total = lines.reduce(0) { $0 + $1.amount }
                let id = String(format: "NW-%07d", sequence)
                rows.append(
                    (
                        CustomerID(Int64(n + 1)),
                        TransactionDetails(
                            externalID: id, occurredAt: when, amount: Money(minorUnits: total, currency: "USD"),
                            store: web ? "WEB" : Self.stores[person.store].code, channel: web ? .web : .store, lines: lines)
                    ))
                if Int.random(in: 0..<40, using: &random) == 0 {
                    let returned = lines[0]
                    rows.append(
                        (
                            CustomerID(Int64(n + 1)),
                            TransactionDetails(
                                externalID: id + "-R", kind: .return,
                                occurredAt: min(now, when.addingTimeInterval(86_400 * Double(Int.random(in: 2...20, using: &random)))),
                                amount: Money(minorUnits: returned.amount, currency: "USD"), store: web ? "WEB" : Self.stores[person.store].code,
                                channel: web ? .web : .store, originalExternalID: id, lines: [returned])
                        ))
                }
                if rows.count >= 5000 {
                    summary.transactions += try await store.insertTransactions(rows)
                    memberPurchases += rows.filter { isMember(Int($0.customer.rawValue) - 1) }
                    rows.removeAll()
                }
            }
        }
        summary.transactions += try await store.insertTransactions(rows)
        memberPurchases += rows.filter { isMember(Int($0.customer.rawValue) - 1) }
        log("transactions: \(summary.transactions)")
        // Service interactions.
        let subjects = ["Order status", "Return request", "Product question", "Store hours", "Complaint: late delivery", "Loyalty card lost"]
        for n in stride(from: 0, to: people.count, by: 3) {
            let when = start.addingTimeInterval(Double(Int.random(in: 0..<days, using: &random)) * 86_400 + 36_000)
            let channel: Channel = [.call, .email, .web, .store].randomElement(using: &random)!
            _ = try await store.insertInteraction(
                InteractionDetails(
                    channel: channel, direction: .inbound, outcome: ["resolved", "escalated", "callback"].randomElement(using: &random),
                    agent: "agent\(n % 7 + 1)@northwind.example", subject: subjects.randomElement(using: &random), occurredAt: when),
                for: CustomerID(Int64(n + 1)))
            summary.interactions += 1
        }
        // Receipts from the web shop with emails no one has.
        let strays = (0..<max(3, customers / 500)).map { index in
            (
                payload: UnmatchedItem.Payload.transaction(
                    TransactionDetails(
                        externalID: String(format: "NW-U%05d", index), occurredAt: now.addingTimeInterval(-Double(index) * 3600),
                        amount: Money(minorUnits: 4_500, currency: "USD"), store: "WEB", channel: .web,
                        lines: [.init(product: "Daypack", category: "accessories", amount: 4_500)])),
                identifiers: [CustomerIdentifier(kind: .email, value: "guest\(index)@example.net")], reason: "no customer has this email"
            )
        }
        summary.unmatched = try await store.holdUnmatched(strays, at: now).count
        try await loadLoyalty(
            into: patron, members: (0..<people.count).filter(isMember).map { CustomerID(Int64($0 + 1)) },
            purchases: memberPurchases, summary: &summary, log: log)
        // The shops, so segment rules can ask how far a customer lives from one.
        try await patron.segments.upsertStores(
            Self.stores.map { StoreLocation(code: $0.code, name: "Northwind \($0.city)", latitude: $0.lat, longitude: $0.lon) }
                + [StoreLocation(code: "WEB", name: "Northwind web shop", latitude: nil, longitude: nil)])
        // The demo admin and a few staff.
        for (email, role) in [
            (Self.adminEmail, Role.admin), ("agent@northwind.example", .agent), ("marketer@northwind.example", .marketer),
            ("analyst@northwind.example", .analyst), ("loyalty@northwind.example", .loyaltyManager),
            ("agent2@northwind.example", .agent), ("agent3@northwind.example", .agent), ("kam@northwind.example", .sales),
            ("sales@northwind.example", .sales),
        ] {
            do { _ = try await patron.access.addUser(email: email, password: Self.adminPassword, role: role) } catch AccessError.emailTaken {}
        }
        // A member who can sign in to the portal: the richest of the first hundred members.
        var best: (CustomerID, Int64)?
        for id in (0..<min(people.count, 400)).filter(isMember).prefix(100).map({ CustomerID(Int64($0 + 1)) }) {
            guard let member = try await patron.loyalty.memberships(of: id).first else { continue }
            let points = try await patron.loyalty.balance(of: member.id).available
            if points > (best?.1 ?? -1) { best = (id, points) }
        }
        if let (id, _) = best {
            do {
                _ = try await patron.access.createMemberLogin(customerID: id.rawValue, email: Self.memberEmail, password: Self.adminPassword)
            } catch AccessError.emailTaken {}
        }
        // A coalition partner: a café whose till earns the program's points and which honours the gift cards.
        _ = try await patron.partners.save(
            code: "CAFE", name: "Northwind Café", outlets: ["CAFE"], rewards: ["GIFT10"], currency: "USD", pricePerThousandPoints: 800,
            payoutPerVoucher: 900)
        // Its people: a cashier at the till and the manager who reads the statements.
        for (email, role) in [(Self.cafeCashierEmail, PartnerRole.cashier), ("manager@cafe.example", .manager)] {
            do {
                _ = try await patron.access.addPartnerUser(partner: "CAFE", email: email, password: Self.adminPassword, role: role)
            } catch AccessError.emailTaken {}
        }
        summary.serviceRequests = try await loadServiceRequests(
            into: patron, customers: people.count, signedInMember: best?.0, random: &random)
        summary.opportunities = try await loadSales(into: patron, customers: people.count, random: &random)
        summary.campaigns = try await loadFinishedCampaign(into: patron)
        return summary
    }

    /// The sales pipeline: the key account manager's deals with the A-class accounts and a rep's
    /// with individual customers, opened over the last four months through the real service (each
    /// step at its own time); some moved on, some won or lost, a few past their expected close.
    func loadSales(into patron: Patron, customers: Int, random: inout SeededGenerator) async throws -> Int {
        func at(_ date: Date) -> SalesService { SalesService(store: SQLSalesStore(database: patron.database), clock: Clock { date }) }
        let keyAccounts = try await patron.sales.keyAccounts(manager: nil, revenueSince: until).map(\.account)
        let products = ["Group guiding season", "School trip package", "Rescue training", "Staff uniforms", "Event catering", "Lodge gear refit"]
        let stages: [Opportunity.Stage] = [.prospecting, .qualification, .proposal, .negotiation]
        var made = 0
        for n in 0..<max(8, min(60, customers / 100)) {
            let kam = n % 2 == 0 && !keyAccounts.isEmpty
            let owner = SalesActor(kam ? "kam@northwind.example" : "sales@northwind.example")
            let opened = until.addingTimeInterval(-Double(Int.random(in: 2...120, using: &random)) * 86_400)
            let close = LocalDate(opened.addingTimeInterval(Double(Int.random(in: 20...150, using: &random)) * 86_400))
            let draft = OpportunityDraft(
                name: products.randomElement(using: &random)!, customer: kam ? nil : Int64.random(in: 1...Int64(max(1, customers)), using: &random),
                account: kam ? keyAccounts[(n / 2) % keyAccounts.count] : nil,
                amount: Money(minorUnits: Int64.random(in: 20...400, using: &random) * 5_000, currency: "USD"), expectedClose: close,
                stage: .prospecting, nextStep: "Call the buyer")
            let o: Opportunity
            do { o = try await at(opened).create(draft, by: owner) } catch SalesError.invalid(field: "customerId", _) { continue }
            made += 1
            // Each deal moves on a few times, a week or two apart, until today; a third end won or lost.
            var when = opened
            var stage = 0
            while true {
                when = when.addingTimeInterval(Double(Int.random(in: 5...20, using: &random)) * 86_400)
                guard when < until else { break }
                let fate = Double.random(in: 0..<1, using: &random)
                let change: OpportunityChange =
                    if fate < 0.15 {
                        OpportunityChange(stage: .won, note: "signed")
                    } else if fate < 0.25 {
                        OpportunityChange(
                            stage: .lost, lostReason: ["price", "went with a competitor", "no budget this year"].randomElement(using: &random)!)
                    } else if stage + 1 < stages.count {
                        OpportunityChange(stage: stages[stage + 1])
                    } else {
                        OpportunityChange(nextStep: "Chase the signature")
                    }
                if let s = change.stage, s.isOpen { stage += 1 }
                let after = try await at(when).update(o.id, change, by: owner)
                if !after.stage.isOpen { break }
            }
        }
        return made
    }

    /// The service desk of the last ten days: requests and complaints through the real service
    /// (each step at its own time), most answered and resolved, some rated, and some still open —
    /// a few of them past their SLA. The member who signs in to the portal has one resolved.
    func loadServiceRequests(into patron: Patron, customers: Int, signedInMember: CustomerID?, random: inout SeededGenerator) async throws -> Int {
        let base = patron.support
        func desk(_ at: Date) -> SupportService {
            SupportService(store: SQLSupportStore(database: patron.database), customers: patron.customers, clock: Clock { at }, policy: base.policy) { _ in nil }
        }
        let topics: [(ServiceRequest.Kind, String, String, String)] = [
            (
                .question, "Points from my last purchase", "My receipt from last week does not show on my statement.",
                "The purchase was pending for the return window; the points are available now."
            ),
            (
                .problem, "Card not working at the till", "The cashier could not scan my loyalty card.",
                "Sent a replacement card; points were added by hand."
            ),
            (.complaint, "Late delivery", "My web order arrived five days late.", "Apologised and added 500 goodwill points."),
            (
                .question, "How do I use my voucher?", "I redeemed a voucher but do not know how to use it online.",
                "Explained the voucher code at checkout."
            ),
            (
                .complaint, "Rude staff in store", "I was treated badly at the Portland store.",
                "Store manager called the customer; goodwill voucher issued."
            ),
            (.problem, "Cannot sign in", "The portal says my password is wrong.", "Password reset; the customer signed in."),
        ]
        let agents = ["agent@northwind.example", "agent2@northwind.example", "agent3@northwind.example"]
        let count = max(12, min(300, customers / 50))
        var opened = 0
        for n in 0..<count {
            var customer = Int64.random(in: 1...Int64(max(1, customers)), using: &random)
            if n == 0, let signedInMember { customer = signedInMember.rawValue }
            let (kind, subject, description, resolution) = topics.randomElement(using: &random)!
            let at = until.addingTimeInterval(n == 0 ? -5 * 86_400 : -Double(Int.random(in: 600..<(10 * 86_400), using: &random)))
            let agent = agents[n % agents.count]
            let byCustomer = Bool.random(using: &random)
            let r: ServiceRequest
            do {
                r = try await desk(at).open(
                    customer: customer, kind: kind, subject: subject, description: description,
                    channel: byCustomer ? .web : [.call, .email, .store].randomElement(using: &random)!,
                    by: byCustomer ? "member:\(customer)" : agent, byCustomer: byCustomer)
            } catch CustomerError.merged { continue }
            opened += 1
            // Most get an answer within a few hours, and are resolved within two days; the rest wait (some past their SLA).
            let fate = n == 0 ? 0.0 : Double.random(in: 0..<1, using: &random)
            guard fate < 0.75 else { continue }
            let replied = at.addingTimeInterval(Double(Int.random(in: 900...(10 * 3_600), using: &random)))
            guard replied < until else { continue }
            _ = try await desk(replied).assign(r.id, to: agent, by: agent)
            _ = try await desk(replied).reply(r.id, text: "Thank you for telling us. We are looking into it.", internal: false, by: agent)
            let done = replied.addingTimeInterval(Double(Int.random(in: 1_800...(48 * 3_600), using: &random)))
            guard done < until, fate < 0.6 else { continue }
            _ = try await desk(done).resolve(r.id, resolution: resolution, by: agent)
            if n == 0 || Bool.random(using: &random) {
                _ = try await desk(min(until, done.addingTimeInterval(3_600))).rate(
                    r.id, customer: customer, score: [5, 5, 4, 4, 3, 2].randomElement(using: &random)!, comment: nil, author: "member:\(customer)")
            }
        }
        return opened
    }
}

extension DemoCompany {
    /// A campaign that ran and finished, to learn the results page from: a print mailing to the
    /// Gold and Platinum members 45 days before the demo's end, with a 20% control group and a
    /// 30-day attribution window over the demo's own purchases. It runs through the real campaign
    /// engine on a clock set back to its launch (the mailing house's print files go to a
    /// temporary directory), then forward to the end, which attributes and completes it.
    func loadFinishedCampaign(into patron: Patron) async throws -> Int {
        let name = "Autumn thank-you mailing"
        if try await patron.campaigns.campaigns().contains(where: { $0.plan.name == name }) { return 0 }
        let launch = until.addingTimeInterval(-45 * 86_400)
        let time = DemoTime(launch)
        let clock = Clock { time.now }
        let segments = SegmentService(store: SQLSegmentStore(database: patron.database), clock: clock)
        let campaigns = CampaignService(
            store: SQLCampaignStore(database: patron.database), segments: segments, templates: MustacheTemplates(), clock: clock,
            publicURL: patron.settings.publicURL)
        let segment: Segment
        if let existing = try await segments.segment(named: "Gold and Platinum members") {
            segment = existing
        } else {
            segment = try await segments.create(
                SegmentDraft(name: "Gold and Platinum members", rule: #"member and member.tier in ["Gold", "Platinum"]"#), owner: "marketer@northwind.example")
        }
        _ = try await segments.refresh()
        let plan = CampaignPlan(
            name: name, objective: "thank our best members and bring them back before the winter season", budget: 150_000, currency: "USD",
            startsOn: LocalDate(launch), endsOn: LocalDate(launch.addingTimeInterval(40 * 86_400)), segment: segment.id.rawValue,
            controlPercent: 20, offer: CampaignOffer(kind: .none),
            waves: [Wave(channel: .directMail, day: 0, body: "Dear {{first_name}}, thank you for being a {{tier}} member: your {{points}} points are waiting.")],
            costs: CampaignCosts(perMessage: ["direct_mail": 85], fixed: 20_000), attributionDays: 30, marginPercent: 40)
        let c = try await campaigns.create(plan, owner: "marketer@northwind.example")
        _ = try await campaigns.launch(c.id)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("patron-demo-print-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let channels: [CampaignChannel: any MessageChannel] = [.directMail: PrintFiles(directory: directory)]
        _ = try await campaigns.run(through: channels)
        time.now = until
        _ = try await campaigns.run(through: channels)
        // Facts as of the demo's end again, for the segments people build next.
        _ = try await patron.segments.refresh()
        return 1
    }
}

/// The demo campaign's clock: set back to its launch, then forward to the demo's end.
final class DemoTime: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Date

    init(_ start: Date) { value = start }

    var now: Date {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
