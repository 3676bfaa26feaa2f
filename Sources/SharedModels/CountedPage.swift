import Foundation

/// A page of a list with the number of rows in the whole list.
public struct CountedPage<Item: Sendable>: Sendable {
    public var items: [Item]
    public var total: Int

    public init(items: [Item], total: Int) {
        self.items = items
        self.total = total
    }
}
