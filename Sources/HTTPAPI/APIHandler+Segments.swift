import Access
import Campaigns
import Customers
import Foundation
import HTTPTypes
import OpenAPIRuntime
import SharedModels

/// Segments: marketers save and change their own, analysts read, anyone with segments:read
/// counts and previews rules live.
extension APIHandler {
    func listSegments(_ input: Operations.ListSegments.Input) async throws -> Operations.ListSegments.Output {
        _ = try Caller.require(.segmentsRead)
        var out: [Schemas.Segment] = []
        for s in try await segments.segments() { out.append(.init(s, size: try await segments.size(of: s.id))) }
        return .ok(.init(body: .json(out)))
    }

    func createSegment(_ input: Operations.CreateSegment.Input) async throws -> Operations.CreateSegment.Output {
        let principal = try Caller.require(.segmentsManage)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let s = try await segments.create(Self.draft(body), owner: principal.actor)
        return .created(.init(body: .json(.init(s, size: try await segments.size(of: s.id)))))
    }

    static func draft(_ body: Schemas.SegmentInput) -> SegmentDraft {
        SegmentDraft(
            name: body.name, description: body.description, rule: body.rule,
            kind: body.kind.flatMap { Segment.Kind(rawValue: $0.rawValue) } ?? .dynamic)
    }

    func getSegment(_ input: Operations.GetSegment.Input) async throws -> Operations.GetSegment.Output {
        _ = try Caller.require(.segmentsRead)
        let s = try await segments.segment(SegmentID(input.path.id))
        return .ok(.init(body: .json(.init(s, size: try await segments.size(of: s.id)))))
    }

    /// Only the owner or an admin changes or deletes a segment (the Campaigns room's rule).
    func requireOwner(_ id: Int64) async throws -> Segment {
        let principal = try Caller.require(.segmentsManage)
        return try await segments.segment(SegmentID(id), changeableBy: Steward(principal.actor, isAdmin: principal.isAdmin))
    }

    func updateSegment(_ input: Operations.UpdateSegment.Input) async throws -> Operations.UpdateSegment.Output {
        _ = try await requireOwner(input.path.id)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let s = try await segments.update(SegmentID(input.path.id), Self.draft(body))
        return .ok(.init(body: .json(.init(s, size: try await segments.size(of: s.id)))))
    }

    func deleteSegment(_ input: Operations.DeleteSegment.Input) async throws -> Operations.DeleteSegment.Output {
        _ = try await requireOwner(input.path.id)
        try await segments.delete(SegmentID(input.path.id))
        return .noContent(.init())
    }

    func countSegment(_ input: Operations.CountSegment.Input) async throws -> Operations.CountSegment.Output {
        _ = try Caller.require(.segmentsRead)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let (count, ms) = try await segments.count(rule: body.rule)
        return .ok(.init(body: .json(.init(count: count, milliseconds: ms))))
    }

    func previewSegment(_ input: Operations.PreviewSegment.Input) async throws -> Operations.PreviewSegment.Output {
        _ = try Caller.require(.segmentsRead)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let members = try await segments.preview(rule: body.rule, limit: body.limit ?? 20)
        return .ok(.init(body: .json(members.map(Schemas.SegmentMember.init))))
    }

    func segmentOverlap(_ input: Operations.SegmentOverlap.Input) async throws -> Operations.SegmentOverlap.Output {
        _ = try Caller.require(.segmentsRead)
        let o = try await segments.overlap(SegmentID(input.query.first), SegmentID(input.query.second))
        return .ok(.init(body: .json(.init(first: o.first, second: o.second, both: o.both))))
    }

    func refreshSegmentFacts(_ input: Operations.RefreshSegmentFacts.Input) async throws -> Operations.RefreshSegmentFacts.Output {
        _ = try Caller.require(.segmentsManage)
        return .ok(.init(body: .json(.init(customers: try await segments.refresh()))))
    }

    func listSegmentMembers(_ input: Operations.ListSegmentMembers.Input) async throws -> Operations.ListSegmentMembers.Output {
        _ = try Caller.require(.segmentsRead)
        let page = try await segments.members(
            of: SegmentID(input.path.id), after: input.query.after ?? 0, limit: min(max(input.query.limit ?? 100, 1), 5_000))
        return .ok(.init(body: .json(page.map(Schemas.SegmentMember.init))))
    }

    func exportSegment(_ input: Operations.ExportSegment.Input) async throws -> Operations.ExportSegment.Output {
        _ = try Caller.require(.segmentsRead)
        _ = try Caller.require(.dataExport)
        var text = ""
        try await segments.exportCSV(SegmentID(input.path.id)) { text += $0 }
        return .ok(.init(body: .csv(HTTPBody(text))))
    }

    func snapshotSegment(_ input: Operations.SnapshotSegment.Input) async throws -> Operations.SnapshotSegment.Output {
        _ = try Caller.require(.segmentsManage)
        let s = try await segments.snapshot(SegmentID(input.path.id))
        return .ok(.init(body: .json(.init(s, size: s.snapshotCount ?? 0))))
    }
}

extension Schemas.Segment {
    init(_ s: Segment, size: Int) {
        self.init(
            id: s.id.rawValue, name: s.name, description: s.description, rule: s.rule, kind: .init(rawValue: s.kind.rawValue)!, owner: s.owner,
            createdAt: s.createdAt, updatedAt: s.updatedAt, snapshotAt: s.snapshotAt, size: size)
    }
}

extension Schemas.SegmentMember {
    init(_ m: SegmentMember) {
        self.init(customerId: m.customer, name: m.name, email: m.email, tier: m.tier, clvNext12m: m.clv)
    }
}

extension Problem {
    init(_ error: SegmentError) {
        switch error {
        case .invalidRule(let message, let line, let column):
            self.init(
                status: .unprocessableContent, code: "invalid_rule", detail: "line \(line), column \(column): \(message)", field: "rule",
                errors: [FieldProblem(field: "rule", reason: "line \(line), column \(column): \(message)")])
        case .notFound(let id): self.init(status: .notFound, code: "segment_not_found", detail: "No segment \(id).")
        case .notOwner: self.init(status: .forbidden, code: "forbidden", detail: error.description)
        case .nameTaken(let name):
            self.init(status: .conflict, code: "segment_name_taken", detail: "A segment named '\(name)' exists already.", field: "name")
        case .invalid(let field, let reason): self.init(validation: [FieldError(field, reason)])
        }
    }
}

/// Stores and partner outlets, so rules can ask how far a customer lives from one.
extension APIHandler {
    func listStores(_ input: Operations.ListStores.Input) async throws -> Operations.ListStores.Output {
        let principal = try Caller.require(.customersRead)
        guard case .staff = principal else { throw AccessError.forbidden(.customersRead) }
        return .ok(.init(body: .json(try await segments.stores().map(Schemas.Store.init))))
    }

    func putStore(_ input: Operations.PutStore.Input) async throws -> Operations.PutStore.Output {
        _ = try Caller.require(.loyaltyManage)
        guard case .json(let body) = input.body else { preconditionFailure() }
        let store = StoreLocation(code: input.path.code, name: body.name, latitude: body.latitude, longitude: body.longitude)
        try await segments.save(store: store)
        return .ok(.init(body: .json(.init(store))))
    }
}

extension Schemas.Store {
    init(_ s: StoreLocation) {
        self.init(code: s.code, name: s.name, latitude: s.latitude, longitude: s.longitude)
    }
}
