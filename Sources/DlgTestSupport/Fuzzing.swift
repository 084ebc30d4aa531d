// A seeded, mutation-based fuzzer for the parsers that read what others wrote: records, configs, LLM
// replies. libFuzzer would need every target rebuilt with -sanitize=fuzzer; this generator runs on the
// ordinary build, is reproducible from its seed, and reports the first input that crashed by the seed and
// index that made it (the crash itself ends the process: that is the failure a test sees).

import DlgCore
import Foundation

/// The core's seeded generator (SplitMix64): the same seed gives the same inputs on every machine.
public typealias FuzzRandom = SeededRandom

extension SeededRandom {
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}

/// Mutations of a corpus: byte flips, inserted interesting bytes and tokens, deletions, duplicated and
/// spliced runs, truncation, deep nesting and very long runs.
public struct Mutator: Sendable {
    public let corpus: [[UInt8]]
    let tokens: [[UInt8]]

    public init(corpus: [String], tokens: [String]) {
        self.corpus = corpus.map { Array($0.utf8) }
        self.tokens = tokens.map { Array($0.utf8) }
    }

    static let interesting: [UInt8] = [0, 0x0A, 0x0D, 0x09, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C,
                                       0x2D, 0x7F, 0x80, 0xBF, 0xC0, 0xE2, 0xED, 0xF0, 0xF4, 0xFF, 0x24, 0x26]

    public func input(_ rng: inout FuzzRandom) -> [UInt8] {
        var b = corpus[rng.below(corpus.count)]
        for _ in 0..<(1 + rng.below(6)) { mutate(&b, &rng) }
        return b
    }

    func mutate(_ b: inout [UInt8], _ rng: inout FuzzRandom) {
        let at = rng.below(b.count + 1)
        switch rng.below(10) {
        case 0 where !b.isEmpty: b[min(at, b.count - 1)] ^= UInt8(1 << rng.below(8))
        case 1: b.insert(Self.interesting[rng.below(Self.interesting.count)], at: at)
        case 2: b.insert(contentsOf: tokens[rng.below(tokens.count)], at: at)
        case 3 where !b.isEmpty:
            let n = min(b.count - min(at, b.count - 1), 1 + rng.below(16))
            b.removeSubrange(min(at, b.count - 1)..<(min(at, b.count - 1) + n))
        case 4 where !b.isEmpty:
            let start = rng.below(b.count), n = min(b.count - start, 1 + rng.below(64))
            b.insert(contentsOf: b[start..<(start + n)], at: at)
        case 5:
            let other = corpus[rng.below(corpus.count)]
            if !other.isEmpty { b.insert(contentsOf: other[rng.below(other.count)...], at: at) }
        case 6: b.removeSubrange(at...)
        case 7:
            // Deep nesting: usually a little, one time in twenty up to 3,000 levels.
            let open: [UInt8] = rng.below(2) == 0 ? Array("[".utf8) : Array("{\"a\":".utf8)
            let depth = 1 + (rng.below(20) == 0 ? rng.below(3000) : rng.below(40))
            b.insert(contentsOf: Array(repeating: open, count: depth).joined(), at: at)
        case 8:
            // A long run: usually up to 2 KB, one time in twenty up to 100 KB.
            let length = 1 + (rng.below(20) == 0 ? rng.below(100_000) : rng.below(2_000))
            b.insert(contentsOf: [UInt8](repeating: UInt8(0x41 + rng.below(26)), count: length), at: at)
        default: if !b.isEmpty { b[min(at, b.count - 1)] = UInt8(truncatingIfNeeded: rng.next()) }
        }
    }
}

/// Runs `target` over `count` inputs, with a watchdog that ends the process (exit 70, naming the input)
/// when one input takes longer than `hangSeconds` of CPU, or twelve times that of wall time (one that
/// blocks). CPU, not the clock, so that a machine busy with other work does not make a slow input look
/// hung (a config input took over 5 s of wall time and 0.1 s of CPU in a loaded `make test`).
/// `maxResidentBytes` (0: none) bounds the process's resident memory while it runs: past either bound,
/// the input's number is printed and the process exits 70.
public func fuzz(name: String, seed: UInt64, count: Int, mutator: Mutator, hangSeconds: Double = 10,
                 maxResidentBytes: Int = 0, target: ([UInt8]) -> Void) -> (inputs: Int, seconds: Double) {
    var rng = FuzzRandom(seed: seed)
    let started = Date()
    let current = FuzzProgress()
    let watchdog = Thread {
        var last = -1, since = Date(), sinceCPU = processCPUSeconds()
        while true {
            Thread.sleep(forTimeInterval: 0.05)
            let (index, done) = current.read()
            if done { return }
            if maxResidentBytes > 0, let rss = residentBytes(), rss > maxResidentBytes {
                FileHandle.standardError.write(Data("dlg-fuzz: \(name): input \(index) of seed \(seed) grew the process to \(rss >> 20) MiB, over \(maxResidentBytes >> 20) MiB\n".utf8))
                exit(70)
            }
            if index != last { last = index; since = Date(); sinceCPU = processCPUSeconds(); continue }
            if processCPUSeconds() - sinceCPU > hangSeconds || Date().timeIntervalSince(since) > 12 * hangSeconds {
                FileHandle.standardError.write(Data("dlg-fuzz: \(name): input \(index) of seed \(seed) ran over \(hangSeconds) s (a hang)\n".utf8))
                exit(70)
            }
        }
    }
    watchdog.start()
    for i in 0..<count {
        current.set(i)
        target(mutator.input(&rng))
    }
    current.finish()
    return (count, Date().timeIntervalSince(started))
}

/// The CPU time this process has used, in seconds.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// This process's resident memory (`/proc/self/statm`), or nil where there is none.
public func residentBytes() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

final class FuzzProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var index = 0, done = false
    func set(_ i: Int) { lock.withLock { index = i } }
    func finish() { lock.withLock { done = true } }
    func read() -> (Int, Bool) { lock.withLock { (index, done) } }
}

/// Whether two values are the same to the last detail `==` overlooks (`JSON.isIdentical`).
public func identicalJSON(_ a: JSON, _ b: JSON) -> Bool { a.isIdentical(to: b) }
