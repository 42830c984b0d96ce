# Regenerates the fixtures: python3-libtorrent (2.0.8) creates v1, v2 and
# hybrid torrents over tree/, an independent oracle for the Dir layout and
# the verifier. Run: /usr/bin/python3 gen.py
import hashlib, os, libtorrent as lt

def content(name, n):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{name}:{i}".encode()).digest()
        i += 1
    return bytes(out[:n])

files = {"tree/a.bin": 50000, "tree/sub/b.bin": 20000, "tree/c.bin": 1, "tree/d/e.bin": 40000, "tree/d/f.bin": 16384}
for p, n in files.items():
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(content(p, n))

for kind, flags in (("v1", lt.create_torrent.v1_only), ("v2", lt.create_torrent.v2_only), ("hybrid", 0)):
    fs = lt.file_storage()
    lt.add_files(fs, "tree")
    ct = lt.create_torrent(fs, 32768, flags)
    lt.set_piece_hashes(ct, ".")
    with open(f"{kind}.torrent", "wb") as f:
        f.write(lt.bencode(ct.generate()))
