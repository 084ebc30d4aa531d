/// Stable hashes (Swift's Hasher is seeded per process, so it cannot name anything on disk).
public enum StableHash {
    /// FNV-1a, 64 bits.
    public static func fnv1a(_ text: String, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var h = seed
        for b in text.utf8 { h ^= UInt64(b); h = h &* 0x100_0000_01b3 }
        return h
    }
}

/// The `seed` of a chat request. Servers that honour it (llama.cpp, vLLM, OpenAI) sample the same reply
/// for the same prompt and seed: a rerun or a resumed dialogue asks the same question, while two dialogues
/// whose prompts happen to be identical (few personas, a small knowledge base) still sample apart instead of
/// producing the same question and costing a regeneration. 31 bits: llama.cpp takes an unsigned 32-bit seed
/// and some servers a signed one.
public enum RequestSeed {
    public static func make(_ parts: String...) -> Int {
        Int(StableHash.fnv1a(parts.joined(separator: "\u{1F}")) & 0x7FFF_FFFF)
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same sequence on every machine.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public init(_ text: String) { state = StableHash.fnv1a(text) }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
