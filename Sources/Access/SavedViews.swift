import Foundation
import SharedModels

/// A list as one user likes to see it: a name for a list page's filters and sort order.
public struct SavedView: Sendable, Equatable {
    public var name: String
    /// The list's query string (`home_store=S01&sort=since&dir=desc`).
    public var query: String

    public init(name: String, query: String) {
        self.name = name
        self.query = query
    }
}

/// Where saved views are kept, per user and list page.
public protocol SavedViewStore: Sendable {
    func savedViews(owner: String, path: String) async throws -> [SavedView]
    /// Saves or replaces the view of this name; returns how many the owner has on this page.
    func saveView(owner: String, path: String, view: SavedView, at: Date) async throws -> Int
    func deleteView(owner: String, path: String, name: String) async throws
}

extension AccessService {
    /// At most this many views per user and list.
    public static let savedViewsPerList = 20

    /// The visitor's saved views of the list at `path`, by name.
    public func savedViews(of principal: Principal, path: String) async throws -> [SavedView] {
        try await store.savedViews(owner: principal.key, path: path)
    }

    /// Saves the list at `path` as it is shown now under `name` (replacing a view of that name).
    /// - Throws: ``AccessError/invalid(field:reason:)`` for a bad name, path or query, or past
    ///   ``savedViewsPerList``.
    public func saveView(of principal: Principal, path: String, name: String, query: String) async throws {
        let name = name.trimmingSpaces()
        guard (1...60).contains(name.count) else { throw AccessError.invalid(field: "name", reason: "give the view a name of 1 to 60 characters") }
        guard path.hasPrefix("/console/"), path.count <= 100, path.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/-_".contains($0)) }) else {
            throw AccessError.invalid(field: "path", reason: "views are saved for console lists only")
        }
        guard query.count <= 1000, !query.contains("#") else { throw AccessError.invalid(field: "query", reason: "is too long to save") }
        let existing = try await store.savedViews(owner: principal.key, path: path)
        guard existing.count < Self.savedViewsPerList || existing.contains(where: { $0.name == name }) else {
            throw AccessError.invalid(field: "name", reason: "a list keeps at most \(Self.savedViewsPerList) views; delete one first")
        }
        _ = try await store.saveView(owner: principal.key, path: path, view: SavedView(name: name, query: query), at: clock.now)
    }

    public func deleteView(of principal: Principal, path: String, name: String) async throws {
        try await store.deleteView(owner: principal.key, path: path, name: name)
    }
}
