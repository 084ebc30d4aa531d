// The response cache's store and keys, without a server.

@testable import DlgCore
import Foundation
import Testing

@Suite struct ResponseCacheTests {
    static func tempPath() -> String {
        NSTemporaryDirectory() + "dlg-cache-\(UUID().uuidString)/llm_cache.sqlite"
    }

    static func agent(baseURL: String = "http://a/v1", key: String = "sk-one", seed: Int? = 7) -> AgentSettings {
        let f = try! ConfigFixture("llm:\n  model: m\n  base_url: \(baseURL)\n  api_key: \(key)\n")
        defer { f.cleanup() }
        var a = try! f.load().agent(.qaGenerator)
        a.requestSeed = seed
        return a
    }

    @Test func storedRepliesAreReadBackAndCounted() throws {
        let path = Self.tempPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let cache = try ResponseCache(path: path)
        let body = Array("{\"choices\":[]}".utf8)
        #expect(cache.get("k1") == nil)
        cache.put("k1", body)
        // Queued, not yet committed: this connection serves it already.
        #expect(cache.get("k1") == body)
        #expect(cache.flush())
        #expect(cache.get("k1") == body)
        // Another connection (another process, as the stages are) sees it.
        let other = try ResponseCache(path: path)
        #expect(other.get("k1") == body)
        #expect(cache.hits == 2 && cache.misses == 1)
    }

    @Test func aDamagedEntryIsNeverServed() throws {
        let path = Self.tempPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let cache = try ResponseCache(path: path)
        cache.put("whole", Array("a whole reply".utf8))
        cache.put("torn", Array("a reply cut in the middle of".utf8))
        // As if a write had been cut: the body no longer matches its checksum.
        #expect(cache.execute("UPDATE replies SET body = substr(body, 1, 5) WHERE key = 'torn'"))
        #expect(cache.get("torn") == nil)
        #expect(cache.damaged == 1)
        #expect(cache.get("whole") == Array("a whole reply".utf8))
        let c = cache.check()
        #expect(c.entries == 2 && c.damaged == 1)
    }

    @Test func manyWritersAtOnceLoseNothing() async throws {
        let path = Self.tempPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        // Four connections, as the four stages of a run, writing at the same time.
        let caches = try (0..<4).map { _ in try ResponseCache(path: path) }
        await withTaskGroup(of: Void.self) { group in
            for (w, cache) in caches.enumerated() {
                group.addTask {
                    for i in 0..<200 { cache.put("w\(w)-\(i)", Array(String(repeating: "x", count: 2000 + i).utf8)) }
                    cache.flush()
                }
            }
        }
        let check = try ResponseCache(path: path).check()
        #expect(check.entries == 800 && check.damaged == 0, "\(check)")
        #expect(caches[0].get("w3-199")?.count == 2199)
    }

    @Test func theKeyIsWhatDeterminesTheAnswerNotWhereItIsAsked() {
        let messages: [ChatMessage] = [.obj(["role": "user", "content": "hello"])]
        let schema = JSON.obj(["type": "object"])
        func key(_ a: AgentSettings, _ m: [ChatMessage] = messages, tools: [JSON] = []) -> String {
            ResponseCache.chatKey(agent: a, messages: m, format: .json(name: "x", schema: schema), tools: tools)
        }
        let base = key(Self.agent())
        #expect(key(Self.agent(baseURL: "http://elsewhere/v1", key: "sk-two")) == base, "endpoint and key are not in the key")
        #expect(key(Self.agent(seed: 8)) != base, "the seed is")
        #expect(key(Self.agent(), [.obj(["role": "user", "content": "hello!"])]) != base, "the messages are")
        #expect(key(Self.agent(), tools: [.obj(["type": "function"])]) != base, "the tools are")
        var hot = Self.agent()
        hot.temperature = 1.5
        #expect(key(hot) != base, "sampling parameters are")
        #expect(ResponseCache.chatKey(agent: Self.agent(), messages: messages, format: .text, tools: []) != base,
                "the response format is")
        #expect(base.count == 32)
    }

    @Test func queuedEntriesAreCommittedInBatchesAndAfterAPause() throws {
        let path = Self.tempPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let cache = try ResponseCache(path: path)
        let reader = try ResponseCache(path: path)
        // A full batch is committed by the put that fills it.
        for i in 0..<ResponseCache.batchLimit { cache.put("b\(i)", Array("reply \(i)".utf8)) }
        #expect(reader.get("b0") == Array("reply 0".utf8))
        #expect(reader.get("b\(ResponseCache.batchLimit - 1)") != nil)
        // A lone entry is committed a moment after it was put, with no further call.
        cache.put("lone", Array("alone".utf8))
        let deadline = Date().addingTimeInterval(10)
        while reader.get("lone") == nil && Date() < deadline { usleep(10_000) }
        #expect(reader.get("lone") == Array("alone".utf8))
        // Dropping the cache commits what it still holds.
        var last: ResponseCache? = try ResponseCache(path: path)
        last?.put("at-exit", Array("kept".utf8))
        last = nil
        #expect(reader.get("at-exit") == Array("kept".utf8))
    }

    /// The key as the first version computed it (two FNV-1a passes over the text): caches written
    /// before keep serving.
    @Test func theKeyIsTheSameAsBefore() {
        let parts = JSON.obj(["model": ["m"], "messages": [.obj(["role": "user", "content": "héllo \"x\"\n"])], "seed": 7])
        let text = "chat\u{1F}" + parts.serialized()
        func fnv(_ seed: UInt64) -> UInt64 {
            var h = seed
            for b in text.utf8 { h ^= UInt64(b); h = h &* 0x100_0000_01b3 }
            return h
        }
        let before = String(format: "%016llx%016llx", fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142))
        #expect(ResponseCache.key("chat", parts) == before)
        #expect(ResponseCache.key("chat", .obj([:])).count == 32)
    }

    @Test func settingsTurnItOffAndPlaceIt() throws {
        let f = try ConfigFixture("saving:\n  output_dir: out\n")
        defer { f.cleanup() }
        let on = try f.load()
        #expect(on.llmLayer.cache.enabled)
        #expect(on.llmLayer.cache.path == f.dir + "/out/llm_cache.sqlite")
        #expect(try f.load(["DLGFORGE_CACHE": "0"]).llmLayer.cache.enabled == false)
        let g = try ConfigFixture("llm:\n  cache:\n    enabled: false\n    path: c/x.sqlite\n  error_storm:\n    window: 7\n")
        defer { g.cleanup() }
        let off = try g.load()
        #expect(off.llmLayer.cache.enabled == false)
        #expect(off.llmLayer.cache.path == g.dir + "/c/x.sqlite")
        #expect(off.llmLayer.errorStorm.window == 7 && off.llmLayer.errorStorm.minCalls == 20)
        #expect(off.tree.unknownKeys.isEmpty, "\(off.tree.unknownKeys)")
    }
}
