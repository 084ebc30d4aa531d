// dlg-nearbench: the near-duplicate index alone, for make bench (scripts/bench.py).

import DlgCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Builds an index of `--questions` synthetic 15-word questions (words drawn from a 50,000-word
/// vocabulary, seeded), then checks `--checks` questions against it: half of them an indexed
/// question with one word added (each must be found), half new ones. Prints one JSON line: the
/// checks per CPU-second of this process (one thread), the index's own byte count per question, the
/// resident-memory growth per question while building it, and candidates confirmed per check.
/// Nothing is asserted: the figures go to docs/benchmarks.md.

func argument(_ name: String, _ fallback: Int) -> Int {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) { return v }
    return fallback
}

func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
}

struct Seeded {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func benchmark() throws {
    let questions = argument("--questions", 1_000_000)
    let checks = argument("--checks", 20_000)
    let vocabulary = (0..<50_000).map { "w\($0)" }
    var rng = Seeded(state: 24)
    func question(_ words: Int) -> [String] { (0..<words).map { _ in vocabulary[Int(rng.next() % 50_000)] } }

    let rssBefore = residentBytes()
    var probe = NearIndexProbe(threshold: 0.8)
    var kept: [[String]] = []
    let buildCPU0 = cpuSeconds()
    for i in 0..<questions {
        let q = question(15)
        if i % max(1, questions / checks) == 0 && kept.count < checks / 2 { kept.append(q) }
        probe.add(q.joined(separator: " "))
    }
    let buildCPU = cpuSeconds() - buildCPU0
    let rssGrowth = residentBytes() - rssBefore

    var probes: [String] = []
    for q in kept {
        var longer = q
        longer.insert("extra", at: Int(rng.next() % 15))
        probes.append(longer.joined(separator: " "))
        probes.append(question(15).joined(separator: " "))
    }
    let confirmed0 = probe.confirmed
    var found = 0, falseHits = 0
    let cpu0 = cpuSeconds()
    for (i, p) in probes.enumerated() {
        let hit = probe.check(p) != nil
        if i % 2 == 0 { if hit { found += 1 } } else if hit { falseHits += 1 }
    }
    let cpu = cpuSeconds() - cpu0
    let figures: [String: Any] = [
        "questions": questions, "checks": probes.count,
        "checks_per_cpu_second": Double(probes.count) / max(cpu, 1e-9),
        "index_bytes_per_question": Double(probe.bytes) / Double(questions),
        "rss_bytes_per_question": Double(rssGrowth) / Double(questions),
        "build_cpu_seconds": buildCPU,
        "candidates_confirmed_per_check": Double(probe.confirmed - confirmed0) / Double(probes.count),
        "near_found": found, "near_planted": kept.count, "distinct_rejected": falseHits,
    ]
    let data = try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

try benchmark()
