import Customers
import Foundation
import SharedModels

/// Where purchases and returns come in — API, import, linking — so that each one is recorded
/// on the customer and then runs through the loyalty engine the same way.
///
/// Recording and earning are two database transactions; earning is idempotent by transaction
/// id, so sending a transaction again (which records nothing new) completes an accrual that a
/// crash cut short, and never pays twice.
public struct TransactionIntake: Sendable {
    public let customers: CustomerService
    public let loyalty: PointsLedger

    public init(customers: CustomerService, loyalty: PointsLedger) {
        self.customers = customers
        self.loyalty = loyalty
    }

    /// Records a purchase or return for the customer its identifiers find (or holds it as not
    /// matched) and accrues it in every program the customer belongs to.
    public func submit(_ details: TransactionDetails, identifiers: [CustomerIdentifier]) async throws -> (IngestOutcome, [PointsLedger.AccrualResult])
    {
        let outcome = try await customers.submit(details, identifiers: identifiers)
        return (outcome, try await accrue(outcome))
    }

    /// Links a held item to a customer; a transaction then earns as if it had matched on arrival.
    public func link(_ id: UnmatchedID, to customer: CustomerID) async throws -> (IngestOutcome, [PointsLedger.AccrualResult]) {
        let outcome = try await customers.link(id, to: customer)
        return (outcome, try await accrue(outcome))
    }

    public func accrue(_ outcome: IngestOutcome) async throws -> [PointsLedger.AccrualResult] {
        switch outcome {
        case .recordedTransaction(let transaction, _), .duplicateTransaction(let transaction): try await accrue(transaction)
        case .recordedInteraction, .unmatched: []
        }
    }

    /// Accrues one recorded transaction, finding a return's original purchase.
    public func accrue(_ transaction: Transaction) async throws -> [PointsLedger.AccrualResult] {
        var original: Transaction?
        if transaction.details.kind == .return, let reference = transaction.details.originalExternalID {
            original = try await customers.store.transaction(externalID: reference)
        }
        return try await loyalty.accrue(transaction, original: original)
    }

    /// Accrues the transactions of an import batch whose customers are members; the rest cost one query.
    public func accrue(batch: [(customer: CustomerID, details: TransactionDetails)]) async throws -> Int {
        let members = try await loyalty.store.members(among: Set(batch.map(\.customer)))
        var accrued = 0
        for row in batch where members.contains(row.customer) {
            guard let transaction = try await customers.store.transaction(externalID: row.details.externalID) else { continue }
            accrued += try await accrue(transaction).count
        }
        return accrued
    }
}
