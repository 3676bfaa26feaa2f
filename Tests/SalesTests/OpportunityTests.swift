import Foundation
import Sales
import Testing

@Suite struct OpportunityTests {
    @Test("weighted amounts round half up in minor units")
    func weighting() {
        #expect(Opportunity.weigh(1, 50) == 1)
        #expect(Opportunity.weigh(149, 1) == 1)
        #expect(Opportunity.weigh(150, 1) == 2)
        #expect(Opportunity.weigh(1_000_000, 75) == 750_000)
        #expect(Opportunity.weigh(999, 0) == 0)
    }
}
