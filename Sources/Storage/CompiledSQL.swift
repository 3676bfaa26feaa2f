import Expressions
import SQLKit

extension SQLQueryString {
    /// A compiled rule condition with its parameters bound through SQLKit.
    public init(_ condition: CompiledCondition) {
        var query: SQLQueryString = ""
        for (i, piece) in condition.pieces.enumerated() {
            if i > 0 {
                switch condition.parameters[i - 1] {
                case .number(let v): query = query + "\(bind: v)"
                case .text(let t): query = query + "\(bind: t)"
                }
            }
            query = query + "\(unsafeRaw: String(piece))"
        }
        self = query
    }
}
