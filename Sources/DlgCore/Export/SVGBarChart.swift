import Foundation

/// Upstream's hand-drawn SVG horizontal bar chart (its geometry and colours). `barArea` is the
/// longest bar's length (upstream's 700; report.html draws narrower charts).
enum SVGBarChart {
    static func render(title: String, bars: [(String, Int)], barArea area: Int = 700) -> String {
        let maxValue = bars.map(\.1).max() ?? 0
        guard !bars.isEmpty, maxValue > 0 else {
            return """
            <svg xmlns="http://www.w3.org/2000/svg" width="800" height="160" viewBox="0 0 800 160">
            <rect width="800" height="160" fill="#ffffff"/>
            <text x="24" y="48" font-family="sans-serif" font-size="22" font-weight="bold">\(escape(title))</text>
            <text x="24" y="100" font-family="sans-serif" font-size="16" fill="#555555">No data to plot.</text>
            </svg>

            """
        }
        let longest = bars.map { $0.0.count }.max() ?? 0
        let left = min(360, max(140, longest * 7 + 24))
        let top = 64, row = 28
        let width = left + area + 140
        let height = top + row * bars.count + 36
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)">
        <rect width="\(width)" height="\(height)" fill="#ffffff"/>
        <text x="24" y="40" font-family="sans-serif" font-size="22" font-weight="bold">\(escape(title))</text>

        """
        for (i, (label, value)) in bars.enumerated() {
            let y = top + i * row
            let length = value == 0 ? 0 : max(1, Int((Double(value) / Double(maxValue) * Double(area)).rounded()))
            svg += """
            <text x="\(left - 10)" y="\(y + 18)" font-family="sans-serif" font-size="13" text-anchor="end">\(escape(label))</text>
            <rect x="\(left)" y="\(y + 4)" width="\(length)" height="20" rx="3" fill="#2f6fed"/>
            <text x="\(left + length + 8)" y="\(y + 18)" font-family="sans-serif" font-size="13">\(value)</text>

            """
        }
        return svg + "</svg>\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
