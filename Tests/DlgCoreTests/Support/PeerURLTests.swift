// Issue 23: which hosts count as this machine or a private network (no warning for a key sent there
// over http), and what makes two URLs the same origin (the Hub's token goes to its own origin only).

@testable import DlgCore
import Testing

@Suite struct PeerURLTests {
    @Test(arguments: [
        ("http://127.0.0.1:8000/v1", true, true), ("http://localhost:1234", true, true), ("http://[::1]:9/v1", true, true),
        ("http://10.1.2.3/v1", false, true), ("http://172.16.0.1", false, true), ("http://172.31.255.255", false, true),
        ("http://192.168.1.10:8000", false, true), ("http://[fd12::1]:80/", false, true),
        ("http://172.32.0.1", false, false), ("http://203.0.113.7:8000/v1", false, false), ("http://api.example.com", false, false),
        ("http://user:pw@127.0.0.1.evil.example/", false, false), ("http://11.0.0.1", false, false),
    ])
    func loopbackAndPrivate(url: String, loopback: Bool, privateNet: Bool) throws {
        let p = try #require(PeerURL(url))
        #expect(p.isLoopback == loopback, "\(url)")
        #expect(p.isPrivate == privateNet, "\(url)")
    }

    @Test func originsCompareSchemeHostAndPort() throws {
        let hub = try #require(PeerURL("https://huggingface.co"))
        #expect(try #require(PeerURL("https://huggingface.co:443/x.git/info/lfs/objects/verify")).sameOrigin(hub))
        #expect(try #require(PeerURL("https://HuggingFace.co/api")).sameOrigin(hub))
        #expect(!(try #require(PeerURL("http://huggingface.co/api")).sameOrigin(hub)))
        #expect(!(try #require(PeerURL("https://huggingface.co.evil.example/api")).sameOrigin(hub)))
        #expect(!(try #require(PeerURL("https://huggingface.co@evil.example/api")).sameOrigin(hub)), "user information is not the host")
        #expect(PeerURL("file:///etc/passwd") == nil && PeerURL("ftp://h/") == nil && PeerURL("http://") == nil)
    }

    @Test func theHubsTokenGoesToItsOriginOnly() throws {
        let hub = "https://huggingface.co"
        try HubPeers.checkTokenTarget("https://huggingface.co/me/x.git/info/lfs/objects/verify", endpoint: hub)
        for bad in ["https://evil.example/verify", "file:///etc/hostname", "http://huggingface.co/verify", "gopher://huggingface.co/"] {
            #expect(throws: DlgError.self, "\(bad)") { try HubPeers.checkTokenTarget(bad, endpoint: hub) }
        }
        // The tests' stand-in: http on loopback.
        try HubPeers.checkTokenTarget("http://127.0.0.1:8123/lfs-verify", endpoint: "http://127.0.0.1:8123")
        #expect(throws: DlgError.self) { try HubPeers.checkTokenTarget("http://localhost:8123/lfs-verify", endpoint: "http://127.0.0.1:8123") }
        #expect(HubPeers.shown("https://s3.example/bucket/obj?X-Amz-Signature=abc") == "https://s3.example", "no signed query in messages")
    }
}
