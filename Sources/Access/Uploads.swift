import Foundation
import SharedModels

/// A file a staff user uploaded for a multi-step task (the console's import wizard): kept in the
/// database, so every server of a cluster sees it, readable only by its owner, with the state of
/// what was done with it.
public struct Upload: Sendable, Equatable {
    public var id: Int64
    public var owner: String
    public var name: String
    public var content: String
    public var createdAt: Date
    /// `uploaded`, `running`, `done` or `failed`.
    public var state: String
    /// What the last run reported (JSON the wizard reads back), or nil.
    public var detail: String?

    public init(id: Int64, owner: String, name: String, content: String, createdAt: Date, state: String, detail: String?) {
        self.id = id
        self.owner = owner
        self.name = name
        self.content = content
        self.createdAt = createdAt
        self.state = state
        self.detail = detail
    }
}

public protocol UploadStore: Sendable {
    func insertUpload(owner: String, name: String, content: String, at: Date) async throws -> Int64
    func upload(_ id: Int64, owner: String) async throws -> Upload?
    /// Sets the state and detail; `from` makes it conditional (nil: unconditional). True when it changed.
    func setUpload(_ id: Int64, owner: String, state: String, detail: String?, from: String?) async throws -> Bool
    /// Deletes uploads older than `before`; returns how many.
    func deleteUploads(before: Date) async throws -> Int
}

extension AccessService {
    /// The largest file the console accepts (20 MiB).
    public static let maximumUpload = 20 << 20

    /// Keeps an uploaded text file for its owner; uploads older than a day are removed then.
    public func saveUpload(of principal: Principal, name: String, content: String) async throws -> Int64 {
        guard content.utf8.count <= Self.maximumUpload else {
            throw AccessError.invalid(field: "file", reason: "is larger than \(Self.maximumUpload >> 20) MiB")
        }
        guard !content.isEmpty else { throw AccessError.invalid(field: "file", reason: "is empty") }
        let safeName = String(name.filter { !$0.isNewline }.prefix(200))
        _ = try await store.deleteUploads(before: clock.now.addingTimeInterval(-86_400))
        return try await store.insertUpload(owner: principal.key, name: safeName.isEmpty ? "upload.csv" : safeName, content: content, at: clock.now)
    }

    /// The visitor's own upload; nil for another's or an unknown one.
    public func upload(_ id: Int64, of principal: Principal) async throws -> Upload? { try await store.upload(id, owner: principal.key) }

    @discardableResult
    public func setUpload(_ id: Int64, of principal: Principal, state: String, detail: String?, from: String? = nil) async throws -> Bool {
        try await store.setUpload(id, owner: principal.key, state: state, detail: detail, from: from)
    }
}
