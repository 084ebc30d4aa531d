// Stable hashing: reply content must be a pure function of (seed, messages), across
// processes and machines, so Swift's per-process randomised `Hasher` is not usable here.

/// FNV-1a 64-bit over bytes, stable across processes.
struct StableHash {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    init() {}

    init(seed: UInt64) {
        add(seed)
    }

    mutating func addByte(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }

    mutating func add(_ number: UInt64) {
        var n = number
        for _ in 0..<8 {
            addByte(UInt8(truncatingIfNeeded: n))
            n >>= 8
        }
    }

    mutating func add(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var h = value
            for byte in buffer { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            value = h
        }
    }
}

/// The SplitMix64 finaliser: spreads the bits of `x` over the whole word.
@inline(__always)
func mix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Independent pseudo-random choices derived from one content hash, one per salt.
struct Draw {
    let base: UInt64

    /// A well-mixed 64-bit value for `salt`.
    func bits(_ salt: UInt64) -> UInt64 {
        mix64(base ^ mix64(salt &* 0x9E37_79B9_7F4A_7C15))
    }

    /// A value in `0..<count` (count > 0).
    func index(_ salt: UInt64, _ count: Int) -> Int {
        Int(bits(salt) % UInt64(count))
    }

    /// A value in `range`.
    func int(_ salt: UInt64, in range: ClosedRange<Int>) -> Int {
        range.lowerBound + index(salt, range.count)
    }

    /// A value in [0, 1).
    func unit(_ salt: UInt64) -> Double {
        Double(bits(salt) >> 11) * 0x1.0p-53
    }

    /// One of `choices`.
    func pick<T>(_ salt: UInt64, _ choices: [T]) -> T {
        choices[index(salt, choices.count)]
    }
}

/// SplitMix64: the seeded generator behind fault and latency draws (order-dependent by design).
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed ^ 0x6A09_E667_F3BC_C909
    }

    /// The next value in [0, 1).
    mutating func nextUnit() -> Double {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        return Double(mix64(state) >> 11) * 0x1.0p-53
    }
}
