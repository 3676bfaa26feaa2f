import Foundation
import Testing

@testable import Analytics

@Suite struct ChurnTests {
    static func churnTable() throws -> FeatureTable {
        let lines = try SharedData.lines("mlc_churn.csv")
        return FeatureTable(
            columns: lines[0].split(separator: ",").map(String.init),
            rows: lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) })
    }

    @Test func aucIsTheMannWhitneyStatistic() {
        #expect(rocAUC(scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1]) == 0.75)
        #expect(rocAUC(scores: [0.5, 0.5], labels: [0, 1]) == 0.5)
    }

    @Test func crossValidatedAUCMatchesScikitLearn() throws {
        let table = try Self.churnTable()
        let (labels, positive) = try table.labels("churn")
        #expect(positive == "yes")
        let auc = ChurnModels.crossValidate(table.dropping("churn"), labels: labels)
        let lr = auc[.logisticRegression]!.reduce(0, +) / 5
        let gb = auc[.gradientBoosting]!.reduce(0, +) / 5
        print("AUC logistic \(lr) trees \(gb)")
        #expect(abs(lr - 0.82) < 0.015)
        #expect(abs(gb - 0.92) < 0.015)
    }

    @Test func missingValuesAndUnseenLevelsAreHandled() throws {
        let table = FeatureTable(
            columns: ["calls", "plan", "target"],
            rows: [["1", "a", "no"], ["", "b", "yes"], ["7", "NA", "yes"], ["2", "a", "no"], ["8", "b", "yes"], ["0", "a", "no"]])
        let (labels, _) = try table.labels("target")
        let features = table.dropping("target")
        let encoder = FeatureEncoder(fitting: features, rows: Array(features.rows.indices))
        #expect(encoder.featureNames == ["calls", "calls missing", "plan=(missing)", "plan=a", "plan=b"])
        #expect(encoder.raw(["", "zzz"]) == [2, 1, 0, 0, 0])
        let scorer = ChurnScorer(table: features, labels: labels)
        let (risk, drivers) = scorer.score(["9", "b"])
        #expect(risk > 0.5)
        #expect(drivers.first.map { ["calls", "plan"].contains($0.feature) } == true)
        // Typed cells (what the scoring job passes) score exactly as the same row in text.
        #expect(scorer.score(cells: [.number(9), .text("b")]).risk == risk)
        #expect(scorer.score(cells: [.number(nil), .text(nil)]).risk == scorer.score(["", "NA"]).risk)
        #expect(encoder.raw(cells: [.number(nil), .text("zzz")]) == encoder.raw(["", "zzz"]))
        #expect(FeatureCell.number(12).asText == "12" && FeatureCell.number(1.5).asText == "1.5" && FeatureCell.number(nil).asText == "")
    }
}
