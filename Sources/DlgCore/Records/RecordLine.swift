#if canImport(Glibc)
import Glibc
#endif

/// What of each turn a stage reads. A record's turns are most of its bytes (about 6 KB a turn: the
/// answer, its evidence, the retrieval results) and grow with every turn, while a stage reads a few
/// small members of each (the history it sends is the questions and answers); the rest is copied
/// from the input line to the output line without being parsed or written again.
public struct TurnView: Sendable {
    /// Members of each turn the stage reads; nil: the turns are parsed whole.
    public var fields: [String]?
    /// Every turn whole when the stage works on the record (the conversation judge), decided on the
    /// record with its turns as `fields` says.
    public var wholeForWork: Bool

    public init(fields: [String]?, wholeForWork: Bool = false) {
        self.fields = fields
        self.wholeForWork = wholeForWork
    }

    /// Every member of every turn: the record as JSON gives it.
    public static let everything = TurnView(fields: nil)
}

/// A dialogue record read from its JSONL line for a stage that reads only part of each turn (see
/// `TurnView`). `record` is what the stage sees: every member but `turns` parsed, and each turn with
/// only the members the view names. `write` gives the stage's output record back as a line: a turn
/// the stage left as it was is the input's bytes; one it changed is the members it set, in place,
/// with the others copied from the input; a new one is written. The text is the same as parsing and
/// writing the whole record would give, because only lines in `JSON.write`'s own form are read this
/// way (`JSONScan`), the others whole.
///
/// A stage given a `RecordLine` may read, change and append turns, never reorder or remove them.
public struct RecordLine: Sendable {
    /// The record as the stage sees it.
    public var record: JSONObject
    let bytes: [UInt8]
    /// The line's turns as read; nil when the record was parsed whole.
    let turns: [ReadTurn]?

    struct ReadTurn: Sendable {
        let range: Range<Int>
        /// Where each of the turn's members lies in the line.
        let members: [JSONScan.Member]
        /// The members the stage saw.
        let seen: JSONObject
    }

    /// The input line, with its newline.
    public func bytesWithNewline() -> [UInt8] {
        var b = bytes
        b.append(0x0A)
        return b
    }

    /// Size of the input line.
    public var byteCount: Int { bytes.count }

    /// Whether the turns were read in part (false: the record is whole, as `RecordCheck.parse` gives it).
    public var isPartial: Bool { !(turns?.isEmpty ?? true) }

    /// One input line as a record whose turns show what `view` names, or what is wrong with the line
    /// (the same problems, in the same words, as `RecordCheck.parse`).
    public static func parse(_ bytes: [UInt8], view: TurnView) -> Result<RecordLine, RecordProblem> {
        if let fields = view.fields, let line = partial(bytes, fields: fields) {
            if let problem = RecordCheck.problem(line.record) { return .failure(RecordProblem(problem)) }
            return .success(line)
        }
        return RecordCheck.parse(bytes).map { RecordLine(record: $0, bytes: bytes, turns: nil) }
    }

    /// The same line with every turn read whole.
    public func readWhole() -> Result<RecordLine, RecordProblem> {
        guard turns != nil else { return .success(self) }
        return RecordLine.parse(bytes, view: .everything)
    }

    private static func partial(_ bytes: [UInt8], fields: [String]) -> RecordLine? {
        let names = fields.map { Array($0.utf8) }
        return bytes.withUnsafeBufferPointer { buffer -> RecordLine? in
            guard let scan = JSONScan.object(buffer, arrayKey: "turns"), let turnsAt = scan.arrayMember else { return nil }
            func slice(_ r: Range<Int>) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: buffer[r]) }
            func value(_ r: Range<Int>) -> JSON? {
                if buffer[r.lowerBound] == UInt8(ascii: "\"") { return .string(JSONScan.string(slice(r))) }
                return try? JSONCodec.parse(UnsafeRawBufferPointer(slice(r)))
            }
            var record = JSONObject()
            record.reserveCapacity(scan.members.count)
            var read: [ReadTurn] = []
            read.reserveCapacity(scan.elements.count)
            for (i, m) in scan.members.enumerated() {
                let key = JSONScan.string(slice(m.key))
                guard i == turnsAt else {
                    guard let v = value(m.value) else { return nil }
                    record.appendNew(key, v)
                    continue
                }
                var items: [JSON] = []
                items.reserveCapacity(scan.elements.count)
                for (range, members) in zip(scan.elements, scan.elementMembers) {
                    // A turn that is not an object is left to the whole parse (and RecordCheck).
                    guard buffer[range.lowerBound] == UInt8(ascii: "{") else { return nil }
                    var seen = JSONObject()
                    for member in members {
                        let k = member.key
                        guard let f = names.firstIndex(where: { name in
                            name.count == k.count - 2 && name.withUnsafeBufferPointer {
                                memcmp($0.baseAddress!, buffer.baseAddress! + k.lowerBound + 1, name.count) == 0
                            }
                        }) else { continue }
                        guard let v = value(member.value) else { return nil }
                        seen.appendNew(fields[f], v)
                    }
                    items.append(.object(seen))
                    read.append(ReadTurn(range: range, members: members, seen: seen))
                }
                record.appendNew(key, .array(items))
            }
            return RecordLine(record: record, bytes: bytes, turns: read)
        }
    }

    /// `out` (the stage's output for `record`) as compact JSON, the turns it did not change copied
    /// from the input line.
    public func write(_ out: JSONObject, into bytes: inout [UInt8]) {
        guard let turns, case .array(let items)? = out["turns"] else {
            JSON.object(out).write(into: &bytes)
            return
        }
        bytes.append(UInt8(ascii: "{"))
        var first = true
        for (k, v) in out.pairs {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            JSON.writeString(k, into: &bytes)
            bytes.append(UInt8(ascii: ":"))
            guard k == "turns" else { v.write(into: &bytes); continue }
            bytes.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                guard i < turns.count else { item.write(into: &bytes); continue }
                let seen = turns[i].seen
                guard case .object(let changed) = item else { item.write(into: &bytes); continue }
                if changed == seen {
                    bytes.append(contentsOf: self.bytes[turns[i].range])
                } else {
                    writeChanged(turns[i], seen: seen, changed: changed, into: &bytes)
                }
            }
            bytes.append(UInt8(ascii: "]"))
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// A turn the stage changed, as if it had changed the whole turn: in the input's order, a member it
    /// saw is written as it left it (or left out, removed), one it set without seeing is replaced, the
    /// others are copied from the input; members it added follow, in the order it added them.
    private func writeChanged(_ turn: ReadTurn, seen: JSONObject, changed: JSONObject, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        var inputKeys: [String] = []
        inputKeys.reserveCapacity(turn.members.count)
        bytes.withUnsafeBufferPointer { buffer in
            for m in turn.members {
                let key = JSONScan.string(UnsafeBufferPointer(rebasing: buffer[m.key]))
                inputKeys.append(key)
                if let v = changed[key] {
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    JSON.writeString(key, into: &out)
                    out.append(UInt8(ascii: ":"))
                    v.write(into: &out)
                } else if seen[key] == nil {
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[m.key.lowerBound..<m.value.upperBound]))
                }
            }
        }
        for (k, v) in changed.pairs where !inputKeys.contains(k) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSON.writeString(k, into: &out)
            out.append(UInt8(ascii: ":"))
            v.write(into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}
