import Foundation

/// What the tests read out of a `report.html`.
public enum ReportHTML {
    /// The text of each `<script type="application/json" id="...">` block, by id.
    public static func dataBlocks(_ html: String) -> [String: String] {
        var out: [String: String] = [:]
        var rest = html[...]
        while let open = rest.range(of: "<script type=\"application/json\" id=\"") {
            let afterID = rest[open.upperBound...]
            guard let q = afterID.firstIndex(of: "\""), let gt = afterID[q...].firstIndex(of: ">"),
                  let close = afterID[gt...].range(of: "</script>") else { break }
            out[String(afterID[..<q])] = String(afterID[afterID.index(after: gt)..<close.lowerBound])
            rest = afterID[close.upperBound...]
        }
        return out
    }
}
