@testable import DlgCore
import Foundation
import Testing

@Suite("semantic index") struct SemanticIndexTests {
    /// The lane-wise dot product agrees with a sum in Double for every length (the tail past the last
    /// full eight lanes included).
    @Test func theDotProductAgreesWithASumInDouble() {
        var rng = SystemRandomNumberGenerator()
        for count in Array(0...40) + [383, 384, 385] {
            let a = (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
            let b = (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
            let exact = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let got = a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    count == 0 ? 0 : SemanticIndex<Int>.dot(pa.baseAddress!, pb.baseAddress!, count)
                }
            }
            #expect(abs(Double(got) - exact) < 1e-4, "length \(count): \(got) against \(exact)")
        }
    }

    /// The closest live vector at or above the threshold is named (an identical one at 1 less rounding);
    /// a vector below the threshold never is.
    @Test func theClosestLiveVectorIsNamed() {
        func unit(_ v: [Float]) -> [Float] { let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot(); return v.map { $0 / n } }
        var index = SemanticIndex<String>(threshold: 0.9)
        let base = unit((0..<384).map { Float(sin(Double($0))) })
        var near = base
        near[0] += 0.2
        near = unit(near)
        index.add("far", vector: unit((0..<384).map { Float(cos(Double($0) * 3)) }))
        index.add("near", vector: near)
        index.add("same", vector: base)
        #expect(index.match(base) { _ in true }.map(\.id) == "same")
        #expect((index.match(base) { _ in true }?.similarity ?? 0) > 0.99999)
        #expect(index.match(base) { $0 != "same" }.map(\.id) == "near")
        #expect(index.match(base) { $0 == "far" } == nil)
    }
}
