/// Splits an SQL script into its statements, for a protocol that takes one statement a query.
/// Semicolons inside quoted strings and identifiers, dollar-quoted bodies (`$$ … $$`,
/// `$tag$ … $tag$`) and comments do not end a statement; empty statements are dropped.
enum SQLScript {
    static func statements(_ script: String) -> [String] {
        let chars = Array(script.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0
        func flush() {
            let text = String(current).trimmingWhitespace()
            if !text.isEmpty, !SQLScript.isOnlyComments(text) { statements.append(text) }
            current = String.UnicodeScalarView()
        }
        while i < chars.count {
            let c = chars[i]
            let next: Unicode.Scalar? = i + 1 < chars.count ? chars[i + 1] : nil
            if c == "-" && next == "-" {
                // A line comment: kept (harmless), up to the end of the line.
                while i < chars.count && chars[i] != "\n" { current.append(chars[i]); i += 1 }
                continue
            }
            if c == "/" && next == "*" {
                var depth = 0
                repeat {
                    if chars[i] == "/" && i + 1 < chars.count && chars[i + 1] == "*" {
                        depth += 1; current.append(chars[i]); current.append(chars[i + 1]); i += 2; continue
                    }
                    if chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/" {
                        depth -= 1; current.append(chars[i]); current.append(chars[i + 1]); i += 2; continue
                    }
                    current.append(chars[i]); i += 1
                } while depth > 0 && i < chars.count
                continue
            }
            if c == "'" || c == "\"" {
                current.append(c); i += 1
                while i < chars.count {
                    current.append(chars[i])
                    if chars[i] == c {
                        if i + 1 < chars.count && chars[i + 1] == c { current.append(chars[i + 1]); i += 2; continue }
                        i += 1
                        break
                    }
                    i += 1
                }
                continue
            }
            if c == "$", let tag = dollarTag(chars, at: i) {
                // $tag$ … $tag$: copied whole.
                current.append(contentsOf: tag.unicodeScalars); i += tag.unicodeScalars.count
                let closing = Array(tag.unicodeScalars)
                while i < chars.count {
                    if chars[i] == "$" && i + closing.count <= chars.count && Array(chars[i..<(i + closing.count)]) == closing {
                        current.append(contentsOf: tag.unicodeScalars); i += closing.count
                        break
                    }
                    current.append(chars[i]); i += 1
                }
                continue
            }
            if c == ";" {
                flush(); i += 1
                continue
            }
            current.append(c); i += 1
        }
        flush()
        return statements
    }

    /// The dollar-quote opening at `i` (`$$` or `$name$`), or nil where `$` is something else
    /// (a parameter such as `$1`).
    static func dollarTag(_ chars: [Unicode.Scalar], at i: Int) -> String? {
        var j = i + 1
        while j < chars.count, chars[j] == "_" || chars[j].properties.isAlphabetic || (j > i + 1 && ("0"..."9").contains(chars[j])) {
            j += 1
        }
        guard j < chars.count, chars[j] == "$" else { return nil }
        return String(String.UnicodeScalarView(chars[i...j]))
    }

    static func isOnlyComments(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy { $0.trimmingWhitespace().isEmpty || $0.trimmingWhitespace().hasPrefix("--") }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(String.UnicodeScalarView(scalars[start...end]))
    }
}
