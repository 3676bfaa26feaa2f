/// An opaque position in a list ordered by id: the client passes back the `nextCursor` it was given.
public struct Cursor: Hashable, Sendable {
    /// The last id of the previous page; the next page starts after it.
    public let after: Int64

    public init(after: Int64) { self.after = after }

    /// Decodes a cursor string; nil when it was not made by ``encoded``.
    public init?(_ text: String) {
        guard text.hasPrefix("c"), let value = Int64(text.dropFirst()), value >= 0 else { return nil }
        after = value
    }

    public var encoded: String { "c\(after)" }
}

/// One page of a list and the cursor of the next page, nil on the last page.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var next: Cursor?

    public init(items: [Item], next: Cursor?) {
        self.items = items
        self.next = next
    }
}

/// A page size between 1 and 500; absent means 50.
public struct PageSize: Sendable {
    public let value: Int
    public init(_ requested: Int?, maximum: Int = 500) { value = min(max(requested ?? 50, 1), maximum) }
}
