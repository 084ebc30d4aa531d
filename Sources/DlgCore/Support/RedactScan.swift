/// The one pass of `Redact` over UTF-8 bytes. At each position the next two bytes are looked up in a
/// 64 Ki-bit table of the pairs that can start a secret or a shape rule, so ordinary text costs one
/// lookup a byte and no allocation; only where the table says so are the candidates compared.
enum RedactScan {
    /// The known secrets, indexed by their first two bytes.
    struct Table: Sendable {
        let secrets: [[UInt8]]
        /// Bit `b0 << 8 | b1` is set when a secret starts with b0 b1.
        let pairs: [UInt64]
        /// Secrets by first pair, longest first (so the longer of two overlapping values wins).
        let byPair: [UInt16: [Int]]

        init(secrets: [[UInt8]]) {
            self.secrets = secrets
            var bits = [UInt64](repeating: 0, count: 1024)
            var by: [UInt16: [Int]] = [:]
            for (i, s) in secrets.enumerated() where s.count >= 2 {
                let p = UInt16(s[0]) << 8 | UInt16(s[1])
                bits[Int(p >> 6)] |= 1 << UInt64(p & 63)
                by[p, default: []].append(i)
            }
            for (p, list) in by { by[p] = list.sorted { secrets[$0].count > secrets[$1].count } }
            pairs = bits
            byPair = by
        }
    }

    /// The pairs that start a shape rule: `sk-`, `hf_`, `Bearer `, `://`, `password`.
    static let shapePairs: [UInt16] = [0x736B, 0x6866, 0x4265, 0x3A2F, 0x7061]
    static let shapeBits: [UInt64] = {
        var bits = [UInt64](repeating: 0, count: 1024)
        for p in shapePairs { bits[Int(p >> 6)] |= 1 << UInt64(p & 63) }
        return bits
    }()

    /// The masked bytes, or nil when nothing was masked.
    static func scan(_ b: UnsafeBufferPointer<UInt8>, table: Table, shapes: Bool) -> [UInt8]? {
        let n = b.count
        guard n >= 2 else { return nil }
        var out: [UInt8]? = nil
        var copied = 0  // bytes of `b` already in `out`
        var i = 0
        func emit(upTo end: Int, _ replacement: String) {
            if out == nil { out = []; out!.reserveCapacity(n) }
            out!.append(contentsOf: b[copied..<end])
            out!.append(contentsOf: replacement.utf8)
        }
        while i < n - 1 {
            let p = UInt16(b[i]) << 8 | UInt16(b[i + 1])
            let word = Int(p >> 6), bit = UInt64(1) << UInt64(p & 63)
            let secretHit = table.pairs[word] & bit != 0
            guard secretHit || (shapes && shapeBits[word] & bit != 0) else { i += 1; continue }
            if secretHit, let len = knownSecret(b, at: i, pair: p, table: table) {
                emit(upTo: i, Redact.mask)
                i += len; copied = i
                continue
            }
            if shapes, let (from, to, replacement) = shape(b, at: i) {
                emit(upTo: from, replacement)
                i = to; copied = to
                continue
            }
            i += 1
        }
        guard out != nil else { return nil }
        out!.append(contentsOf: b[copied..<n])
        return out
    }

    static func knownSecret(_ b: UnsafeBufferPointer<UInt8>, at i: Int, pair: UInt16, table: Table) -> Int? {
        for k in table.byPair[pair] ?? [] {
            let s = table.secrets[k]
            guard i + s.count <= b.count else { continue }
            var j = 2
            while j < s.count && b[i + j] == s[j] { j += 1 }
            if j == s.count { return s.count }
        }
        return nil
    }

    static func isWordByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D || c >= 0x80
    }
    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0B || c == 0x0C }
    static func has(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard i + count <= b.count else { return false }
        let p = literal.utf8Start
        for k in 0..<count where b[i + k] != p[k] { return false }
        return true
    }
    /// The end of a token: the first whitespace or `"` from `i`.
    static func tokenEnd(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        var e = i
        while e < b.count && !isSpace(b[e]) && b[e] != 0x22 { e += 1 }
        return e
    }

    /// A key's body is random: it has a digit or a capital, and no `/`. `hf_export/data.jsonl` (a path)
    /// and `sk-learn` (a word) are not keys.
    static func looksLikeKey(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Bool {
        var random = false
        for k in from..<to {
            let c = b[k]
            if c == 0x2F { return false }
            if (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) { random = true }
        }
        return random
    }

    /// A shape rule matching at `i`: the range to replace (from `from` to `to`) and its replacement.
    static func shape(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> (Int, Int, String)? {
        let startsToken = i == 0 || !isWordByte(b[i - 1])
        if startsToken && (has(b, i, "sk-") || has(b, i, "hf_")) {
            let end = tokenEnd(b, i + 3)
            return looksLikeKey(b, i + 3, end) ? (i, end, Redact.mask) : nil
        }
        if has(b, i, "Bearer ") { return (i, tokenEnd(b, i + 7), Redact.mask) }
        if has(b, i, "://") { return urlPassword(b, at: i + 3) }
        if has(b, i, "password") {
            // `password=` or `sslpassword=`, as libpq's keywords: not inside a longer word.
            let ssl = i >= 3 && has(b, i - 3, "ssl") && (i == 3 || !isWordByte(b[i - 4]))
            guard startsToken || ssl else { return nil }
            return keywordValue(b, at: i + 8)
        }
        return nil
    }

    /// `user:password@` after `scheme://`, as libpq reads a URI: the user information ends at the first
    /// `@` before any `/` (here also before whitespace or a quote, the end of the URL in text).
    static func urlPassword(_ b: UnsafeBufferPointer<UInt8>, at start: Int) -> (Int, Int, String)? {
        var j = start
        var colon: Int? = nil
        while j < b.count, b[j] != 0x40, b[j] != 0x2F, !isSpace(b[j]), b[j] != 0x22 {
            if b[j] == 0x3A && colon == nil { colon = j }
            j += 1
        }
        guard j < b.count, b[j] == 0x40, let colon, colon + 1 < j else { return nil }
        return (colon + 1, j, Redact.passwordMask)
    }

    /// The value after a `password` keyword: ` = value` (to the next whitespace, `\` escaping) or
    /// `= 'quoted value'` (to the closing quote, `\` escaping), as libpq's key=value syntax.
    static func keywordValue(_ b: UnsafeBufferPointer<UInt8>, at start: Int) -> (Int, Int, String)? {
        var j = start
        while j < b.count && isSpace(b[j]) { j += 1 }
        guard j < b.count, b[j] == 0x3D else { return nil }
        j += 1
        while j < b.count && isSpace(b[j]) { j += 1 }
        let from = j
        if j < b.count && b[j] == 0x27 {
            j += 1
            while j < b.count && b[j] != 0x27 { j += b[j] == 0x5C ? 2 : 1 }
            j = min(j + 1, b.count)
        } else {
            while j < b.count && !isSpace(b[j]) { j += b[j] == 0x5C ? 2 : 1 }
            j = min(j, b.count)
        }
        guard j > from else { return nil }
        return (from, j, Redact.passwordMask)
    }
}

extension RedactScan {
    /// The passwords a DSN holds, as libpq would read them: the URI's `user:password@` (as written and
    /// percent-decoded), its `?password=` parameter, and key=value `password` values (unquoted, unescaped).
    static func dsnPasswords(_ dsn: String) -> [String] {
        var out: [String] = []
        // A URI only when it starts as one (libpq's rule); `password=a://b@c` is a key=value password.
        let trimmed = dsn.drop { $0 == " " || $0 == "\t" || $0 == "\n" }
        if trimmed.hasPrefix("postgresql://") || trimmed.hasPrefix("postgres://"), let scheme = dsn.range(of: "://") {
            let rest = dsn[scheme.upperBound...]
            let authority = rest.prefix { $0 != "/" }
            if let at = authority.firstIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                let raw = String(authority[authority.index(after: colon)..<at])
                out.append(raw)
                if let decoded = raw.removingPercentEncoding, decoded != raw { out.append(decoded) }
            }
            if let q = rest.firstIndex(of: "?") {
                for pair in rest[rest.index(after: q)...].split(separator: "&") where pair.hasPrefix("password=") {
                    let raw = String(pair.dropFirst(9))
                    out.append(raw)
                    if let decoded = raw.removingPercentEncoding, decoded != raw { out.append(decoded) }
                }
            }
            return out.filter { !$0.isEmpty }
        }
        var bytes = Array(dsn.utf8)
        return bytes.withUnsafeMutableBufferPointer { m in
            let b = UnsafeBufferPointer(m)
            var i = 0
            while i < b.count {
                if has(b, i, "password"), i == 0 || !isWordByte(b[i - 1]), let (from, to, _) = keywordValue(b, at: i + 8) {
                    out.append(unquote(Array(b[from..<to])))
                    i = to
                } else {
                    i += 1
                }
            }
            return out.filter { !$0.isEmpty }
        }
    }

    static func unquote(_ v: [UInt8]) -> String {
        var s = v[...]
        if s.first == 0x27 { s = s.dropFirst(); if s.last == 0x27 { s = s.dropLast() } }
        var out: [UInt8] = []
        var escaped = false
        for c in s {
            if !escaped && c == 0x5C { escaped = true; continue }
            escaped = false
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
