import Testing
@Suite struct ToolPlaceholder { @Test func nothing() {} }
