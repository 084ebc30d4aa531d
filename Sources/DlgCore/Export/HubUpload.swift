import Foundation

/// Uploads the Hub export folder over the Hugging Face Hub's HTTP API, as upstream's `push` does with
/// `huggingface_hub` (create_repo with exist_ok, then upload_folder in one commit):
/// 1. `POST {endpoint}/api/repos/create` `{name, organization?, type, private}` (409: it exists);
/// 2. `POST {endpoint}/api/{type}s/{repo_id}/preupload/{revision}` `{files: [{path, sample, size}]}`: the Hub
///    says which files go through LFS (without an answer, files of 10 MB and more do);
/// 3. LFS files: `POST {endpoint}/{datasets/|spaces/}{repo_id}.git/info/lfs/objects/batch` (basic transfer,
///    sha256 oids), then `PUT` each object the Hub does not have yet to its upload URL, and the verify call;
/// 4. `POST {endpoint}/api/{type}s/{repo_id}/commit/{revision}`, NDJSON: a header line (summary =
///    commit_message) and one line per file (`file`, base64 content; or `lfsFile`, its oid and size).
/// The token goes only into the Authorization header; no message or output holds it.
public enum HubUpload {
    public struct Target: Sendable {
        public var repoID: String
        public var repoType = "dataset"
        public var isPrivate = true
        public var commitMessage = "Update synthetic dataset export"
        public var endpoint = "https://huggingface.co"
        public var revision = "main"
        /// Never printed.
        public var token: String
        public init(repoID: String, token: String) {
            self.repoID = repoID
            self.token = token
        }
    }

    public struct Summary: Sendable {
        public var repoID: String
        public var created: Bool
        public var files: Int
        public var lfsFiles: Int
        public var lfsUploaded: Int
        public var bytes: Int
        public var commitURL: String
    }

    /// Files of this size or more go through LFS when the Hub does not say (huggingface_hub's rule).
    public static let lfsThreshold = 10 * 1024 * 1024

    /// The token: `HF_TOKEN`, else `HUGGINGFACE_HUB_TOKEN`, else huggingface-cli's token file
    /// (`HF_TOKEN_PATH`, else `$HF_HOME/token`, else `~/.cache/huggingface/token`).
    public static func token(environment env: [String: String]) -> String? {
        for k in ["HF_TOKEN", "HUGGINGFACE_HUB_TOKEN"] {
            if let t = env[k]?.trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty { Redact.register(t); return t }
        }
        let home = env["HOME"] ?? NSHomeDirectory()
        let hfHome = env["HF_HOME"] ?? (env["XDG_CACHE_HOME"] ?? home + "/.cache") + "/huggingface"
        let path = env["HF_TOKEN_PATH"] ?? hfHome + "/token"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let t = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if !t.isEmpty { Redact.register(t) }
        return t.isEmpty ? nil : t
    }

    /// The target from `saving.hf_push` and the environment (`HF_ENDPOINT`).
    public static func target(settings: Settings) throws(DlgError) -> Target {
        let hub = settings.saving.hfPush
        let where_ = settings.tree.location(of: "saving.hf_push.repo_id")
        guard let repo = hub["repo_id"]?.stringValue?.trimmingCharacters(in: .whitespaces), !repo.isEmpty else {
            throw DlgError.config("\(where_): saving.hf_push.repo_id is empty; set it to <user or organization>/<name> to upload")
        }
        guard repo.split(separator: "/").count <= 2, !repo.contains(".."), !repo.contains(" ") else {
            throw DlgError.config("\(where_): saving.hf_push.repo_id: \"\(repo)\" is not a repo id (<user or organization>/<name>)")
        }
        guard let token = token(environment: settings.tree.environment) else {
            throw DlgError.config("no Hugging Face token: set HF_TOKEN (or HUGGINGFACE_HUB_TOKEN), or log in with huggingface-cli")
        }
        var t = Target(repoID: repo, token: token)
        let type = hub["repo_type"]?.stringValue?.lowercased() ?? "dataset"
        guard ["dataset", "model", "space"].contains(type) else {
            throw DlgError.config("\(settings.tree.location(of: "saving.hf_push.repo_type")): saving.hf_push.repo_type: \"\(type)\" is not allowed; expected dataset, model or space")
        }
        t.repoType = type
        t.isPrivate = hub["private"]?.boolValue ?? true
        if let m = hub["commit_message"]?.stringValue, !m.isEmpty { t.commitMessage = m }
        if var e = settings.tree.environment["HF_ENDPOINT"], !e.isEmpty {
            while e.hasSuffix("/") { e.removeLast() }
            guard let origin = PeerURL(e), origin.isHTTPS || origin.isLoopback, origin.path.isEmpty else {
                throw DlgError.config("HF_ENDPOINT=\(Redact.text(e)): the Hub's address must be https://host[:port] (http only on this machine: 127.0.0.1, ::1, localhost); the token is sent there")
            }
            t.endpoint = e
        }
        return t
    }

    /// The files under `folder`, relative, sorted (`.tmp` leftovers excluded).
    static func files(in folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var out: [String] = []
        while let rel = walker.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(rel), isDirectory: &isDir),
               !isDir.boolValue, !rel.contains(".tmp") {
                out.append(rel)
            }
        }
        return out.sorted()
    }

    struct Reply {
        var status: Int
        var body: [UInt8]
        var json: JSON? { try? JSONCodec.parse(body) }
    }

    static func call(_ t: Target, _ method: String, _ url: String, body: [UInt8]?, contentType: String = "application/json",
                     accept: String = "application/json", auth: Bool = true, extra: [String] = [],
                     timeout: Double = 600) async throws(DlgError) -> Reply {
        var headers = ["Content-Type: \(contentType)", "Accept: \(accept)", "User-Agent: dlgforge"] + extra
        if auth { headers.append("Authorization: Bearer \(t.token)") }
        // The token goes to the configured Hub only, whatever URL a reply of the Hub names.
        if auth { try HubPeers.checkTokenTarget(url, endpoint: t.endpoint) }
        switch await CurlTransport.shared.perform(url: url, method: method, headers: headers, body: body, timeout: timeout) {
        case .response(let r): return Reply(status: r.status, body: r.body)
        case .tooLarge(let limit, _):
            throw DlgError.unavailable("the Hub (\(t.endpoint)) sent a reply larger than \(limit) bytes to \(method) \(HubPeers.shown(url)); stopped there")
        case .failed(let message, let timedOut):
            throw DlgError.unavailable("the Hub (\(t.endpoint)) did not answer \(method) \(HubPeers.shown(url)): \(timedOut ? "timed out" : message)")
        }
    }

    static func fail(_ what: String, _ r: Reply) -> DlgError {
        let text = String(Redact.text(String(decoding: r.body.prefix(64 << 10), as: UTF8.self)).prefix(300))
        if r.status == 401 || r.status == 403 {
            return DlgError.config("the Hub refused the token for \(what) (HTTP \(r.status)); check HF_TOKEN and its write access")
        }
        return DlgError(r.status >= 500 ? .unavailable : .software, "the Hub answered HTTP \(r.status) to \(what): \(text)")
    }

    /// Creates the repo when missing, then uploads every file of `folder` in one commit.
    public static func push(folder: String, to t: Target) async throws(DlgError) -> Summary {
        let paths = files(in: folder)
        guard !paths.isEmpty else { throw DlgError(.noInput, "\(folder): nothing to upload (prepare the folder first: --hub)") }
        // What each file is, read once; a file holding a secret the tools were given is not uploaded.
        var contents: [String: [UInt8]] = [:]
        for p in paths { contents[p] = try Files.read((folder as NSString).appendingPathComponent(p)) }
        try HubPeers.refuseSecrets(contents, folder: folder)
        let parts = t.repoID.split(separator: "/").map(String.init)
        var create = JSONObject()
        create["name"] = .string(parts.last!)
        if parts.count == 2 { create["organization"] = .string(parts[0]) }
        create["type"] = .string(t.repoType)
        create["private"] = .bool(t.isPrivate)
        var body: [UInt8] = []
        JSON.object(create).write(into: &body)
        let made = try await call(t, "POST", "\(t.endpoint)/api/repos/create", body: body)
        guard made.status == 200 || made.status == 201 || made.status == 409 else { throw fail("creating \(t.repoID)", made) }

        let api = "\(t.endpoint)/api/\(t.repoType)s/\(t.repoID)"
        var preupload: [JSON] = []
        for p in paths {
            let bytes = contents[p]!
            preupload.append(.obj(["path": .string(p), "size": .int(bytes.count),
                                   "sample": .string(Data(bytes.prefix(512)).base64EncodedString())]))
        }
        body = []
        JSON.obj(["files": .array(preupload)]).write(into: &body)
        var lfs = Set(paths.filter { contents[$0]!.count >= lfsThreshold })
        let modes = try await call(t, "POST", "\(api)/preupload/\(t.revision)", body: body)
        if modes.status == 200, let listed = modes.json?["files"]?.arrayValue {
            lfs = Set(listed.filter { $0["uploadMode"]?.stringValue == "lfs" }.compactMap { $0["path"]?.stringValue })
        } else if modes.status == 401 || modes.status == 403 {
            throw fail("preupload", modes)
        }

        var oids: [String: String] = [:]
        let uploaded = lfs.isEmpty ? 0 : try await uploadLFS(paths.filter { lfs.contains($0) }, contents, to: t, oids: &oids)

        var ndjson: [UInt8] = []
        func line(_ j: JSON) { j.write(into: &ndjson); ndjson.append(0x0A) }
        line(.obj(["key": "header", "value": .obj(["summary": .string(t.commitMessage), "description": ""])]))
        var total = 0
        for p in paths {
            let bytes = contents[p]!
            total += bytes.count
            if let oid = oids[p] {
                line(.obj(["key": "lfsFile", "value": .obj(["path": .string(p), "algo": "sha256", "oid": .string(oid),
                                                              "size": .int(bytes.count)])]))
            } else {
                line(.obj(["key": "file", "value": .obj(["path": .string(p), "encoding": "base64",
                                                           "content": .string(Data(bytes).base64EncodedString())])]))
            }
        }
        let commit = try await call(t, "POST", "\(api)/commit/\(t.revision)", body: ndjson, contentType: "application/x-ndjson")
        guard commit.status == 200 || commit.status == 201 else { throw fail("the commit", commit) }
        return Summary(repoID: t.repoID, created: made.status != 409, files: paths.count, lfsFiles: lfs.count,
                       lfsUploaded: uploaded, bytes: total, commitURL: commit.json?["commitUrl"]?.stringValue ?? "")
    }

    /// The LFS part of a push: the batch call, the upload of each object the Hub lacks, its verification.
    /// Returns how many objects were uploaded; `oids` gets each file's sha256.
    static func uploadLFS(_ lfsPaths: [String], _ contents: [String: [UInt8]], to t: Target,
                          oids: inout [String: String]) async throws(DlgError) -> Int {
        var body: [UInt8] = []
        var uploaded = 0
        var objects: [JSON] = []
        // (An LFS upload URL may be another host, a storage bucket: it gets the object and the headers the
        // Hub named for it, never the token. The verification carries the token: the Hub's origin only.)
        for p in lfsPaths {
            let oid = SHA256.hex(contents[p]!)
            oids[p] = oid
            objects.append(.obj(["oid": .string(oid), "size": .int(contents[p]!.count)]))
        }
        let prefix = t.repoType == "model" ? "" : "\(t.repoType)s/"
        body = []
        JSON.obj(["operation": "upload", "transfers": ["basic"], "objects": .array(objects), "hash_algo": "sha256",
                  "ref": .obj(["name": .string("refs/heads/\(t.revision)")])]).write(into: &body)
        let batch = try await call(t, "POST", "\(t.endpoint)/\(prefix)\(t.repoID).git/info/lfs/objects/batch", body: body,
                                   contentType: "application/vnd.git-lfs+json", accept: "application/vnd.git-lfs+json")
        guard batch.status == 200, let answered = batch.json?["objects"]?.arrayValue else { throw fail("the LFS batch", batch) }
        let byOID = Dictionary(lfsPaths.map { (oids[$0]!, $0) }, uniquingKeysWith: { a, _ in a })
        for object in answered {
            guard let oid = object["oid"]?.stringValue, let path = byOID[oid] else { continue }
            if let error = object["error"]?["message"]?.stringValue {
                throw DlgError(.software, "the Hub refused the LFS upload of \(path): \(Redact.text(error))")
            }
            // No upload action: the Hub has the object already.
            guard let upload = object["actions"]?["upload"], let href = upload["href"]?.stringValue else { continue }
            let headers = (upload["header"]?.objectValue?.pairs ?? []).compactMap { k, v in v.stringValue.map { "\(k): \($0)" } }
            let put = try await call(t, "PUT", href, body: contents[path]!, contentType: "application/octet-stream",
                                     auth: false, extra: headers)
            guard (200..<300).contains(put.status) else { throw fail("the LFS upload of \(path)", put) }
            if let verify = object["actions"]?["verify"], let vhref = verify["href"]?.stringValue {
                let vheaders = (verify["header"]?.objectValue?.pairs ?? []).compactMap { k, v in v.stringValue.map { "\(k): \($0)" } }
                body = []
                JSON.obj(["oid": .string(oid), "size": .int(contents[path]!.count)]).write(into: &body)
                let ok = try await call(t, "POST", vhref, body: body, contentType: "application/vnd.git-lfs+json",
                                        accept: "application/vnd.git-lfs+json", extra: vheaders)
                guard (200..<300).contains(ok.status) else { throw fail("the LFS verification of \(path)", ok) }
            }
            uploaded += 1
        }
        return uploaded
    }
}
