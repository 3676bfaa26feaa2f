import Campaigns
import Foundation
import SharedModels

/// A campaign plan as JSON — the same document `POST /v1/campaigns` takes — for the CLI.
public enum CampaignPlanFile {
    struct Document: Decodable {
        struct Offer: Decodable {
            var kind: CampaignOffer.Kind
            var code: String?
        }
        struct WaveDoc: Decodable {
            var channel: CampaignChannel
            var day: Int
            var audience: Wave.Audience?
            var rule: String?
            var subject: String?
            var body: String
        }
        struct Costs: Decodable {
            var perMessage: [String: Int64]?
            var perRedemption: Int64?
            var pointValuePer100: Int64?
            var fixed: Int64?
        }
        var name: String
        var objective: String?
        var budget: Int64?
        var currency: String?
        var startsOn: String
        var endsOn: String
        var segmentId: Int64
        var controlPercent: Double?
        var offer: Offer?
        var waves: [WaveDoc]
        var frequencyCaps: [FrequencyCap]?
        var costs: Costs?
        var attributionDays: Int?
        var marginPercent: Double?
    }

    /// The plan in `data`; errors name the file and the field.
    public static func decode(_ data: Data, file: String, defaultCurrency: String) throws -> CampaignPlan {
        let d: Document
        do {
            d = try JSONDecoder().decode(Document.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw ConfigurationError(flag: file, reason: "\(path(context.codingPath + [key])): is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw ConfigurationError(flag: file, reason: "\(path(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) {
            throw ConfigurationError(flag: file, reason: "\(path(context.codingPath)): \(context.debugDescription)")
        }
        guard let starts = LocalDate(d.startsOn) else { throw ConfigurationError(flag: file, reason: "startsOn: must be a date YYYY-MM-DD") }
        guard let ends = LocalDate(d.endsOn) else { throw ConfigurationError(flag: file, reason: "endsOn: must be a date YYYY-MM-DD") }
        let c = d.costs
        return CampaignPlan(
            name: d.name, objective: d.objective, budget: d.budget, currency: d.currency ?? defaultCurrency, startsOn: starts, endsOn: ends,
            segment: d.segmentId, controlPercent: d.controlPercent ?? 10,
            offer: CampaignOffer(kind: d.offer?.kind ?? .none, code: d.offer?.code),
            waves: d.waves.map {
                Wave(channel: $0.channel, day: $0.day, audience: $0.audience ?? .all, rule: $0.rule, subject: $0.subject, body: $0.body)
            },
            frequencyCaps: d.frequencyCaps ?? FrequencyCap.defaults,
            costs: CampaignCosts(
                perMessage: c?.perMessage ?? [:], perRedemption: c?.perRedemption ?? 0, pointValuePer100: c?.pointValuePer100 ?? 100,
                fixed: c?.fixed ?? 0),
            attributionDays: d.attributionDays ?? 30, marginPercent: d.marginPercent ?? 100)
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
}
