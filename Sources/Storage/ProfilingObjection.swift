import SQLKit

/// An objection to profiling (GDPR Art. 21) takes effect at once, in every room that reads scores.
///
/// `customers.profiling_objected` is 1 while a customer's newest `profiling` consent is a
/// refusal. For them the scoring job reads no facts (they are neither scored nor used to fit any
/// model, basket rules included), their stored scores are deleted, the score-derived facts that
/// segments select on are emptied, and they leave snapshots of segments whose rule reads a score;
/// next-best offers and campaign personalisation come from the deleted scores. Granting profiling
/// again lets the next scoring run include them. Called in the transaction that records the
/// consent, like an erasure.
enum ProfilingObjection {
    /// The UPDATE that sets the flag from the consent history for the customers `condition` selects.
    static func recompute(where condition: String) -> String {
        """
        UPDATE customers SET profiling_objected = CASE WHEN (SELECT e.granted FROM consent_events e
          WHERE e.customer_id = customers.id AND e.purpose = 'profiling' ORDER BY e.id DESC LIMIT 1) = 0 THEN 1 ELSE 0 END
        WHERE \(condition)
        """
    }

    /// The segment-fact columns the scoring job fills: emptied for objectors.
    static let scoredFacts = ["last_purchase", "purchases", "revenue", "rfm_segment", "rfm_r", "rfm_f", "rfm_m", "clv", "p_alive", "churn_risk", "value_tier"]

    /// Rule fields that read a score: snapshots of segments naming one lose objectors.
    static let scoredFields = ["rfm.", "clv.", "churn.", "value.tier", "purchases", "revenue", "last_purchase", "in_segment"]

    /// Sets the flag for `customers` and withdraws what profiling made of those who object.
    static func apply(_ db: any SQLDatabase, customers: [Int64]) async throws {
        for chunk in stride(from: 0, to: customers.count, by: 500).map({ Array(customers[$0..<min($0 + 500, customers.count)]) }) {
            let ids = chunk.map(String.init).joined(separator: ",")
            try await db.raw("\(unsafeRaw: recompute(where: "id IN (\(ids))"))").run()
            let objectors = "SELECT id FROM customers WHERE id IN (\(ids)) AND profiling_objected = 1"
            try await db.raw("DELETE FROM customer_scores WHERE customer_id IN (\(unsafeRaw: objectors))").run()
            let empty = scoredFacts.map { "\($0) = NULL" }.joined(separator: ", ")
            try await db.raw("UPDATE segment_facts SET \(unsafeRaw: empty) WHERE customer_id IN (\(unsafeRaw: objectors))").run()
            let scored = scoredFields.map { "rule LIKE '%\($0)%'" }.joined(separator: " OR ")
            try await db.raw(
                "DELETE FROM segment_members WHERE customer_id IN (\(unsafeRaw: objectors)) AND segment_id IN (SELECT id FROM segments WHERE \(unsafeRaw: scored))"
            ).run()
        }
    }

    /// Deletes scores of objectors (the scoring run's last step, in its transaction, so that an
    /// objection recorded while it ran is kept).
    static func withdrawScores(_ db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM customer_scores WHERE customer_id IN (SELECT id FROM customers WHERE profiling_objected = 1)").run()
    }
}
