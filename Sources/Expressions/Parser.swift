import Foundation

/// A rule that cannot be read or does not make sense, with where it goes wrong.
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var position: SourcePosition

    public init(_ message: String, at position: SourcePosition) {
        self.message = message
        self.position = position
    }

    public var description: String { "\(position): \(message)" }
}

struct Token: Equatable {
    enum Kind: Equatable {
        case identifier(String)
        case number(Double)
        case duration(Double)
        case string(String)
        case symbol(String)
        case end
    }

    var kind: Kind
    var position: SourcePosition
}

/// Splits rule text into tokens, tracking line and column.
struct Lexer {
    static func tokens(_ text: String) throws -> [Token] {
        let chars = Array(text.unicodeScalars)
        var tokens: [Token] = []
        var i = 0, line = 1, column = 1
        func advance(_ n: Int = 1) {
            for _ in 0..<n {
                if chars[i] == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
                i += 1
            }
        }
        while i < chars.count {
            let c = chars[i]
            let start = SourcePosition(line: line, column: column)
            if c.properties.isWhitespace {
                advance()
            } else if c == "#" {
                while i < chars.count && chars[i] != "\n" { advance() }
            } else if ("0"..."9").contains(c) {
                var text = ""
                var dotted = false
                while i < chars.count,
                    ("0"..."9").contains(chars[i])
                        || (!dotted && chars[i] == "." && i + 1 < chars.count && ("0"..."9").contains(chars[i + 1]))
                {
                    if chars[i] == "." { dotted = true }
                    text.unicodeScalars.append(chars[i])
                    advance()
                }
                if i + 1 < chars.count, chars[i] == ".", ("0"..."9").contains(chars[i + 1]) {
                    throw ExpressionError("a number has one decimal point at most", at: start)
                }
                guard let value = Double(text), value.isFinite else { throw ExpressionError("'\(text.prefix(40))' is not a number Patron can hold", at: start) }
                if i < chars.count, ["d", "w", "h"].contains(chars[i]), !(i + 1 < chars.count && isIdentifierPart(chars[i + 1])) {
                    let unit: Double = chars[i] == "d" ? 86_400 : chars[i] == "w" ? 604_800 : 3600
                    advance()
                    tokens.append(Token(kind: .duration(value * unit), position: start))
                } else {
                    if i < chars.count, isIdentifierStart(chars[i]) {
                        throw ExpressionError("a number cannot run into a name here; durations are written like 90d, 2w or 12h", at: start)
                    }
                    tokens.append(Token(kind: .number(value), position: start))
                }
            } else if isIdentifierStart(c) {
                var text = ""
                while i < chars.count, isIdentifierPart(chars[i]) {
                    text.unicodeScalars.append(chars[i])
                    advance()
                }
                tokens.append(Token(kind: .identifier(text), position: start))
            } else if c == "\"" {
                advance()
                var text = ""
                var closed = false
                while i < chars.count {
                    if chars[i] == "\\", i + 1 < chars.count {
                        advance()
                        text.unicodeScalars.append(chars[i])
                        advance()
                    } else if chars[i] == "\"" {
                        advance()
                        closed = true
                        break
                    } else {
                        text.unicodeScalars.append(chars[i])
                        advance()
                    }
                }
                guard closed else { throw ExpressionError("this string is not closed with \"", at: start) }
                tokens.append(Token(kind: .string(text), position: start))
            } else {
                let two = i + 1 < chars.count ? String(String.UnicodeScalarView([c, chars[i + 1]])) : ""
                if ["==", "!=", "<=", ">="].contains(two) {
                    advance(2)
                    tokens.append(Token(kind: .symbol(two), position: start))
                } else if "<>+-*/()[],.".unicodeScalars.contains(c) {
                    advance()
                    tokens.append(Token(kind: .symbol(String(c)), position: start))
                } else if c == "=" {
                    throw ExpressionError("use == to compare", at: start)
                } else {
                    throw ExpressionError("unexpected character '\(c)'", at: start)
                }
            }
        }
        tokens.append(Token(kind: .end, position: SourcePosition(line: line, column: column)))
        return tokens
    }

    static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" }
    static func isIdentifierPart(_ c: Unicode.Scalar) -> Bool { isIdentifierStart(c) || ("0"..."9").contains(c) }
}

/// A hand-written recursive-descent parser for the rule language.
///
/// ```
/// tier in ["Gold", "Platinum"] and clv.next_12m > 200
/// count(purchases where category == "wine" within 365d) >= 3
/// last_purchase < today - 90d or not consent.email
/// ```
public struct Parser {
    static let keywords: Set<String> = ["and", "or", "not", "in", "where", "within", "true", "false", "today", "now"]

    var tokens: [Token]
    var index = 0
    var depth = 0
    var connectives = 0

    /// The longest rule text, in characters.
    public static let maximumLength = 10_000
    /// How deep parentheses, `not`, `-`, lists and calls may nest.
    public static let maximumDepth = 32
    /// How many `and` / `or` one rule may join.
    public static let maximumConnectives = 200
    /// How many items one list may hold.
    public static let maximumListItems = 1_000

    /// Parses rule text; throws ``ExpressionError`` pointing at the line and column at fault.
    ///
    /// The text's length is checked before any work, and nesting, list sizes and the number of
    /// conditions while parsing, so no rule — however long or deep — can exhaust the stack of the
    /// parser or of the type checker, evaluator and SQL compiler that walk its tree.
    public static func parse(_ text: String) throws -> RuleExpression {
        guard text.unicodeScalars.count <= maximumLength else {
            throw ExpressionError("a rule may be at most \(maximumLength) characters long", at: SourcePosition(line: 1, column: 1))
        }
        var parser = Parser(tokens: try Lexer.tokens(text))
        let expression = try parser.expression()
        guard case .end = parser.peek.kind else {
            throw ExpressionError("unexpected \(describe(parser.peek)) after a complete rule", at: parser.peek.position)
        }
        return expression
    }

    var peek: Token { tokens[index] }

    mutating func next() -> Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    func isSymbol(_ symbol: String) -> Bool { peek.kind == .symbol(symbol) }
    func isKeyword(_ word: String) -> Bool { peek.kind == .identifier(word) }

    mutating func expect(_ symbol: String, _ what: String) throws {
        guard isSymbol(symbol) else { throw ExpressionError("expected \(what), found \(Self.describe(peek))", at: peek.position) }
        _ = next()
    }

    static func describe(_ token: Token) -> String {
        switch token.kind {
        case .identifier(let name): "'\(name)'"
        case .number(let value): "the number \(value)"
        case .duration: "a duration"
        case .string(let text): "the text \"\(text)\""
        case .symbol(let symbol): "'\(symbol)'"
        case .end: "the end of the rule"
        }
    }

    mutating func expression() throws -> RuleExpression { try binary(minimum: 1) }

    /// Runs one level of nesting, refusing to go deeper than ``maximumDepth``.
    mutating func nested<T>(_ body: (inout Parser) throws -> T) throws -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else {
            throw ExpressionError("a rule may nest at most \(Self.maximumDepth) levels deep", at: peek.position)
        }
        return try body(&self)
    }

    /// Precedence climbing over the binary operators; `not` and `in` sit between `and` and comparisons.
    mutating func binary(minimum: Int) throws -> RuleExpression {
        var left = try prefixNot(minimum: minimum)
        while true {
            let position = peek.position
            guard let op = currentOperator(), op.precedence >= minimum else {
                if minimum <= 4, isKeyword("in") || (isKeyword("not") && tokens[index + 1].kind == .identifier("in")) {
                    let negated = isKeyword("not")
                    if negated { _ = next() }
                    _ = next()
                    let list = try binary(minimum: 5)
                    left = RuleExpression(.membership(left, list, negated: negated), at: position)
                    continue
                }
                return left
            }
            _ = next()
            if op == .and || op == .or {
                connectives += 1
                guard connectives <= Self.maximumConnectives else {
                    throw ExpressionError("a rule may join at most \(Self.maximumConnectives) conditions with and / or", at: position)
                }
            }
            let right = try binary(minimum: op.precedence + 1)
            left = RuleExpression(.binary(op, left, right), at: position)
            if op.precedence == 4, let follow = currentOperator(), follow.precedence == 4 {
                throw ExpressionError("comparisons cannot be chained; join them with and", at: peek.position)
            }
        }
    }

    mutating func prefixNot(minimum: Int) throws -> RuleExpression {
        if isKeyword("not"), minimum <= 3 {
            let position = next().position
            return RuleExpression(.not(try nested { try $0.binary(minimum: 3) }), at: position)
        }
        return try unary()
    }

    func currentOperator() -> BinaryOperator? {
        switch peek.kind {
        case .identifier("and"): .and
        case .identifier("or"): .or
        case .symbol(let s): BinaryOperator(rawValue: s)
        default: nil
        }
    }

    mutating func unary() throws -> RuleExpression {
        if isSymbol("-") {
            let position = next().position
            return RuleExpression(.negate(try nested { try $0.unary() }), at: position)
        }
        return try primary()
    }

    mutating func primary() throws -> RuleExpression {
        let token = next()
        let at = token.position
        switch token.kind {
        case .number(let value): return RuleExpression(.number(value), at: at)
        case .duration(let seconds): return RuleExpression(.duration(seconds), at: at)
        case .string(let text): return RuleExpression(.string(text), at: at)
        case .symbol("("):
            let inner = try nested { try $0.expression() }
            try expect(")", "')' to close the '(' at \(at)")
            return inner
        case .symbol("["):
            var items: [RuleExpression] = []
            if !isSymbol("]") {
                repeat {
                    guard items.count < Self.maximumListItems else {
                        throw ExpressionError("a list may hold at most \(Self.maximumListItems) items", at: peek.position)
                    }
                    items.append(try nested { try $0.expression() })
                } while try consumeComma()
            }
            try expect("]", "']' to close the list")
            return RuleExpression(.list(items), at: at)
        case .identifier("true"): return RuleExpression(.bool(true), at: at)
        case .identifier("false"): return RuleExpression(.bool(false), at: at)
        case .identifier("today"): return RuleExpression(.today, at: at)
        case .identifier("now"): return RuleExpression(.now, at: at)
        case .identifier(let name) where Self.keywords.contains(name):
            throw ExpressionError("expected a value, found '\(name)'", at: at)
        case .identifier(let name):
            if isSymbol("(") {
                _ = next()
                if let function = Aggregate.Function(rawValue: name) { return try aggregate(function, at: at) }
                var arguments: [RuleExpression] = []
                if !isSymbol(")") {
                    repeat {
                        guard arguments.count < 16 else { throw ExpressionError("a call takes at most 16 arguments", at: peek.position) }
                        arguments.append(try nested { try $0.expression() })
                    } while try consumeComma()
                }
                try expect(")", "')' to close the call of \(name)")
                return RuleExpression(.call(name, arguments), at: at)
            }
            var path = [name]
            while isSymbol(".") {
                _ = next()
                guard case .identifier(let part) = peek.kind else { throw ExpressionError("expected a field name after '.'", at: peek.position) }
                _ = next()
                path.append(part)
            }
            return RuleExpression(.field(path), at: at)
        default:
            throw ExpressionError("expected a value, found \(Self.describe(token))", at: at)
        }
    }

    mutating func consumeComma() throws -> Bool {
        guard isSymbol(",") else { return false }
        _ = next()
        return true
    }

    mutating func aggregate(_ function: Aggregate.Function, at position: SourcePosition) throws -> RuleExpression {
        guard case .identifier(let collection) = peek.kind, !Self.keywords.contains(collection) else {
            throw ExpressionError("expected a history such as purchases after \(function.rawValue)(", at: peek.position)
        }
        _ = next()
        var field: String?
        if isSymbol(".") {
            _ = next()
            guard case .identifier(let name) = peek.kind else { throw ExpressionError("expected a field name after '.'", at: peek.position) }
            _ = next()
            field = name
        }
        var filter: RuleExpression?
        if isKeyword("where") {
            _ = next()
            filter = try nested { try $0.binary(minimum: 1) }
        }
        var within: RuleExpression?
        if isKeyword("within") {
            _ = next()
            within = try nested { try $0.binary(minimum: 5) }
        }
        try expect(")", "')' to close \(function.rawValue)(…)")
        return RuleExpression(
            .aggregate(Aggregate(function: function, collection: collection, field: field, filter: filter, within: within)), at: position)
    }
}
