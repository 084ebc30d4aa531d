#!/usr/bin/env python3
"""Response-cache store candidates, measured the way a run uses them: 4 processes (the 4 stages)
each writing N replies of ~3 KB and reading back M keys, at once, on one file.
  sqlite: WAL, synchronous=NORMAL, busy_timeout 10 s, one connection per process, a transaction per put.
  append: O_APPEND framed records (magic, key, length, checksum), each process keeping an index it
          refreshes by scanning what others appended since its last look.
Prints puts/s and gets/s per candidate (total over the 4 processes) and the open time of a 20k-entry file."""
import os, sys, time, sqlite3, hashlib, struct, multiprocessing as mp, tempfile, zlib

N, M, SIZE, PROCS = 2000, 2000, 3000, 4
body = (b"x" * SIZE)

def sq_worker(path, wid, q):
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS r(key TEXT PRIMARY KEY, body BLOB, sum INTEGER)")
    t = time.perf_counter()
    for i in range(N):
        db.execute("INSERT OR REPLACE INTO r VALUES(?,?,?)", (f"{wid}-{i}", body, zlib.crc32(body)))
    tp = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(M):
        row = db.execute("SELECT body, sum FROM r WHERE key=?", (f"{(wid+1)%PROCS}-{i%N}",)).fetchone()
    q.put((tp, time.perf_counter() - t))

MAGIC = b"DLGC"
def ap_scan(fd, index, pos):
    size = os.fstat(fd).st_size
    data = os.pread(fd, size - pos, pos)
    off = 0
    while off + 12 <= len(data):
        if data[off:off+4] != MAGIC: off += 1; continue
        klen, blen = struct.unpack_from("<HI", data, off + 4)
        end = off + 10 + klen + blen + 4
        if end > len(data): break
        key = data[off+10:off+10+klen]; b = data[off+10+klen:end-4]
        if struct.unpack_from("<I", data, end - 4)[0] == zlib.crc32(b): index[key] = pos + off + 10 + klen, blen
        off = end
    return pos + off

def ap_worker(path, wid, q):
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    index = {}; pos = 0
    t = time.perf_counter()
    for i in range(N):
        k = f"{wid}-{i}".encode()
        os.write(fd, MAGIC + struct.pack("<HI", len(k), len(body)) + k + body + struct.pack("<I", zlib.crc32(body)))
    tp = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(M):
        k = f"{(wid+1)%PROCS}-{i%N}".encode()
        if k not in index: pos = ap_scan(fd, index, pos)
        if k in index:
            o, l = index[k]; os.pread(fd, l, o)
    q.put((tp, time.perf_counter() - t))

def run(kind, worker):
    d = tempfile.mkdtemp(); path = os.path.join(d, "cache")
    if kind == "sqlite":
        db = sqlite3.connect(path); db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS r(key TEXT PRIMARY KEY, body BLOB, sum INTEGER)"); db.close()
    q = mp.Queue(); ps = [mp.Process(target=worker, args=(path, w, q)) for w in range(PROCS)]
    t = time.perf_counter(); [p.start() for p in ps]; [p.join() for p in ps]; wall = time.perf_counter() - t
    res = [q.get() for _ in ps]
    puts = PROCS * N / max(r[0] for r in res); gets = PROCS * M / max(r[1] for r in res)
    # Open time: a fresh process finding one key in the 8k-entry file.
    t = time.perf_counter()
    if kind == "sqlite":
        db = sqlite3.connect(path); db.execute("SELECT body FROM r WHERE key='3-1999'").fetchone()
    else:
        fd = os.open(path, os.O_RDONLY); ap_scan(fd, {}, 0)
    open_ms = (time.perf_counter() - t) * 1000
    print(f"{kind:7s} puts/s {puts:9.0f}  gets/s {gets:9.0f}  open+first get {open_ms:6.1f} ms  wall {wall:5.2f} s  size {os.path.getsize(path)//1024} KB")

if __name__ == "__main__":
    run("sqlite", sq_worker)
    run("append", ap_worker)
