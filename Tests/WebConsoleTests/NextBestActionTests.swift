import Analytics
import Foundation
import Loyalty
import SharedModels
import Testing

@testable import WebConsole

/// The agent's next best actions without a database: rewards in reach, rewards nearly in reach,
/// promotions to join, each with a reason; churn drivers as sentences.
@Suite struct NextBestActionTests {
    static let now = Date(epochSeconds: 1_767_225_600)

    @Test("rewards they can take now come before promotions to join and rewards nearly in reach; sold-out rewards are never offered")
    func ranking() {
        let rewards = [
            Reward(id: RewardID(1), programID: ProgramID(1), code: "MUG", name: "A mug", kind: .product, pointsPrice: 500, stock: 3),
            Reward(id: RewardID(2), programID: ProgramID(1), code: "BAG", name: "A bag", kind: .product, pointsPrice: 1_100),
            Reward(id: RewardID(3), programID: ProgramID(1), code: "GONE", name: "Sold out", kind: .product, pointsPrice: 100, stock: 0),
            Reward(id: RewardID(4), programID: ProgramID(1), code: "OLD", name: "Withdrawn", kind: .product, pointsPrice: 100, active: false),
        ]
        let promotion = Promotion(
            id: PromotionID(1), programID: ProgramID(1), code: "SPRING", name: "Spring double points", startsAt: Self.now.addingTimeInterval(-86_400),
            endsAt: LocalDate(year: 2026, month: 2, day: 1)!.startOfDay, requiresEnrolment: true, action: .multiplier(percent: 200), createdAt: Self.now)
        let actions = NextBestAction.rank(
            scores: nil, available: [("Rewards", 1_000)], rewards: rewards, joinable: [promotion], basketRules: [], now: Self.now)
        #expect(actions.map(\.action) == ["Suggest redeeming A mug", "Invite them to join Spring double points", "Tell them they are close to A bag"])
        #expect(actions[0].reason == "Costs 500 points; they have 1,000.")
        #expect(actions[1].reason.contains("through 31 Jan 2026"))
        #expect(actions[2].reason.hasPrefix("100 points to go"))
    }

    @Test("churn drivers read as sentences, never as feature names")
    func drivers() {
        #expect(NextBestAction.driver("recency_days", raises: true) == "No purchase for a long time raises the risk")
        #expect(NextBestAction.driver("tenure_days", raises: false) == "A long time as a customer lowers the risk")
        #expect(!NextBestAction.driver("some_new_feature", raises: true).contains("_"))
    }
}
