import Foundation

/// Key accounts with their revenue, for the edges (the store stays sealed).
extension SalesService {
    public func keyAccounts(manager: String?, revenueSince: Date) async throws -> [KeyAccountRow] { try await store.keyAccounts(manager: manager, revenueSince: revenueSince) }
}
