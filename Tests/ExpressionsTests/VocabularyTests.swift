import Foundation
import Testing

@testable import Expressions

/// A rule comparing a field with a value it never holds is refused with the value meant, instead
/// of counting nobody without a word (#17).
@Suite struct VocabularyTests {
    static let values = ["rfm.segment": ["at_risk", "champions"], "member.tier": ["Gold", "Silver"], "purchases.store": ["S01", "S02"]]

    func message(_ rule: String) -> String? {
        do {
            try Vocabulary.check(try Parser.parse(rule), values: Self.values)
            return nil
        } catch let e as ExpressionError {
            return e.message
        } catch {
            return "\(error)"
        }
    }

    @Test("labels and case are caught and the stored value suggested; unknown values list what there is")
    func suggestions() {
        #expect(message(#"rfm.segment == "at risk""#) == #"rfm.segment is never "at risk"; did you mean "at_risk"?"#)
        #expect(message(#"member.tier == "gold" and rfm.segment == "champions""#) == #"member.tier is never "gold"; did you mean "Gold"?"#)
        #expect(message(#"member.tier in ["Gold", "Platinum"]"#) == #"member.tier is never "Platinum"; it is one of "Gold", "Silver""#)
        #expect(message(#""At-Risk" != rfm.segment"#) == #"rfm.segment is never "At-Risk"; did you mean "at_risk"?"#)
        #expect(message(#"count(purchases where store == "s01" within 90d) > 1"#) == #"store is never "s01"; did you mean "S01"?"#)
    }

    @Test("held values, fields without a vocabulary and non-equality comparisons pass")
    func passes() {
        #expect(message(#"rfm.segment == "at_risk" and member.tier != "Silver""#) == nil)
        #expect(message(#"language == "xx" or home_store == "anything""#) == nil)
        #expect(message(#"member.tier > "A""#) == nil)
    }
}
