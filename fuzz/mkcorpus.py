#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the shared fixtures
and from small synthetic images. The committed corpora are what long runs grew from these seeds,
reduced to 30-40 inputs each (see docs/robustness.md); rerun this to start over.

Usage: python3 fuzz/mkcorpus.py [FIXTURES_DIR]   (default: ../shared/fixtures next to the crate)
       python3 fuzz/mkcorpus.py --fragmented [GEN_DIR]   only the fragmented-layout seeds:
           synthetic page_index inputs, and with GEN_DIR (made by `gen_checkpoint GEN_DIR 256K
           --formats dir --run-pages 1 --procs 2 --maps 40`) a model_render input from its images
"""

import gzip
import hashlib
import json
import io
import os
import struct
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
FRAGMENTED = len(sys.argv) > 1 and sys.argv[1] == "--fragmented"
FIX = sys.argv[1] if len(sys.argv) > 1 and not FRAGMENTED else \
    os.path.join(HERE, "..", "..", "shared", "fixtures")
OUT = os.path.join(HERE, "corpus")

COMMON = 0x54564319
MAGIC = {
    "pstree": 0x50273030, "core": 0x55053847, "mm": 0x57492820, "pagemap": 0x56084025,
    "fdinfo": 0x56213732, "files": 0x56303138, "fs": 0x51403912, "ids": 0x54432030,
    "inventory": 0x58313116, "memfd": 0x48453499,
}
# image_decode's dispatch byte for each image name prefix (see fuzz_targets/image_decode.rs).
KIND = {
    "pstree.img": 0, "core-": 1, "mm-": 2, "pagemap-": 3, "fdinfo-": 4, "files.img": 5,
    "fs-": 6, "ids-": 7, "inventory.img": 8, "stats-dump": 9, "memfd.img": 10,
    "mountpoints-": 11, "pipes-data.img": 13, "seccomp.img": 15, "timens-": 16, "utsns-": 17,
}


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, value):
    return varint(num << 3) + varint(value)


def image(magic, entries):
    out = struct.pack("<II", COMMON, magic)
    for e in entries:
        out += struct.pack("<I", len(e)) + e
    return out


def pagemap(pages_id, runs):
    """runs: (vaddr, nr_pages, flags)"""
    ents = [field(1, pages_id)]
    for vaddr, nr, flags in runs:
        ents.append(field(1, vaddr) + field(2, 0) + field(4, flags) + field(5, nr))
    return image(MAGIC["pagemap"], ents)


def split(files):
    out = b""
    for name, data in files:
        n = name.encode()
        out += bytes([len(n)]) + n + struct.pack("<I", len(data)) + data
    return out


def save(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    h = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, h), "wb") as f:
        f.write(data)


def pages(n, seed):
    return b"".join(bytes([(seed + i) & 0xFF]) * 4096 for i in range(n))


def read_dir(d, cap_pages=16384):
    files = []
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if not os.path.isfile(p) or name.endswith(".log"):
            continue
        data = open(p, "rb").read()
        if name.startswith("pages-"):
            data = data[:cap_pages]
        files.append((name, data))
    return files


def main():
    plain = os.path.join(FIX, "secretd-plain", "images")
    shm = os.path.join(FIX, "secretd-shm", "images")
    inc = os.path.join(FIX, "secretd-incremental", "images")

    # image_decode: each small fixture image, as is (header included) and without its header.
    seen = set()
    for d in (plain, shm, os.path.join(inc, "dump")):
        if not os.path.isdir(d):
            continue
        for name, data in read_dir(d):
            kind = next((k for p, k in KIND.items() if name.startswith(p)), None)
            if kind is None or len(data) > 8192 or (kind, len(data)) in seen:
                continue
            seen.add((kind, len(data)))
            save("image_decode", bytes([kind, 0]) + data)
            hdr = 4 if name == "inventory.img" else 8
            save("image_decode", bytes([kind, 0x80]) + data[hdr:])

    # page_index: synthetic pagemaps covering PRESENT, PRESENT|LAZY, LAZY, PARENT chains,
    # overlaps, short pages files; and the fixtures' own pagemaps with cut pages files.
    P, L, PA = 4, 2, 1
    save("page_index", split([("pagemap-1.img", pagemap(1, [(0x1000, 2, P), (0x5000, 1, P | L)])),
                              ("pages-1.img", pages(3, 1))]))
    save("page_index", split([("pagemap-1.img", pagemap(1, [(0x1000, 4, P), (0x3000, 2, P)])),
                              ("pages-1.img", pages(5, 7))]))
    save("page_index", split([("pagemap-1.img", pagemap(2, [(0x10000, 3, P), (0x20000, 1 << 60, L)])),
                              ("pages-2.img", pages(1, 3))]))
    save("page_index", split([
        ("pagemap-1.img", pagemap(3, [(0x1000, 2, PA), (0x3000, 1, P)])),
        ("pages-3.img", pages(1, 9)),
        ("parent/pagemap-1.img", pagemap(2, [(0x1000, 1, PA), (0x2000, 1, P)])),
        ("parent/pages-2.img", pages(1, 5)),
        ("parent/parent/pagemap-1.img", pagemap(1, [(0x1000, 1, P)])),
        ("parent/parent/pages-1.img", pages(1, 2)),
    ]))
    for d, pm in ((plain, "pagemap-8262.img"), (shm, None)):
        if not os.path.isdir(d):
            continue
        files = [f for f in read_dir(d, 8192) if f[0].startswith(("pagemap-", "pages-"))]
        if pm:
            files = [f for f in files if f[0] in (pm, "pages-2.img")]
        save("page_index", split(files))
    dump = os.path.join(inc, "dump")
    if os.path.isdir(dump):
        files = []
        for prefix, d in (("", dump), ("parent/", os.path.join(inc, "pre2")),
                          ("parent/parent/", os.path.join(inc, "pre"))):
            for name, data in read_dir(d, 8192):
                if name.startswith(("pagemap-", "pages-")):
                    files.append((prefix + name, data))
        save("page_index", split(files))

    # model_render: whole fixture image dirs (pages files cut), and a minimal synthetic one.
    for d in (plain, shm):
        if os.path.isdir(d):
            save("model_render", split(read_dir(d, 16384)))
    if os.path.isdir(dump):
        files = read_dir(dump, 8192)
        files += [("parent/" + n, b) for n, b in read_dir(os.path.join(inc, "pre2"), 8192)
                  if n.startswith(("pagemap-", "pages-"))]
        save("model_render", split(files))
    pstree = image(MAGIC["pstree"], [field(1, 1) + field(2, 0) + field(3, 1) + field(4, 1) + field(5, 1)])
    save("model_render", split([("pstree.img", pstree),
                                ("pagemap-1.img", pagemap(1, [(0x1000, 1, P)])),
                                ("pages-1.img", pages(1, 1))]))

    # archive_source: small tars (plain and gzip) of an image dir and of a container archive,
    # plus hostile entries.
    def tar(members, fmt=tarfile.GNU_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
            for name, data, kind, link in members:
                ti = tarfile.TarInfo(name)
                ti.mtime = 1700000000
                if kind == "dir":
                    ti.type = tarfile.DIRTYPE
                    t.addfile(ti)
                elif kind == "sym":
                    ti.type = tarfile.SYMTYPE
                    ti.linkname = link
                    t.addfile(ti)
                elif kind == "hard":
                    ti.type = tarfile.LNKTYPE
                    ti.linkname = link
                    t.addfile(ti)
                else:
                    ti.size = len(data)
                    t.addfile(ti, io.BytesIO(data))
        return buf.getvalue()

    small = [(n, b) for n, b in read_dir(plain, 4096) if len(b) <= 4096 and not n.startswith("seccomp")] \
        if os.path.isdir(plain) else [("pstree.img", pstree)]
    flat = tar([(n, b, "file", None) for n, b in small])
    save("archive_source", b"\x00" + flat)
    ctr = tar([("config.dump", b'{"id":"abc","name":"x"}', "file", None),
               ("spec.dump", b'{"annotations":{"io.container.manager":"libpod"}}', "file", None),
               ("checkpoint/", b"", "dir", None)]
              + [("checkpoint/" + n, b, "file", None) for n, b in small])
    save("archive_source", b"\x00" + ctr)
    save("archive_source", b"\x01" + ctr)
    save("archive_source", b"\x02" + ctr)
    evil = tar([("checkpoint/", b"", "dir", None),
                ("checkpoint/pstree.img", pstree, "file", None),
                ("../escape", b"x", "file", None),
                ("/abs", b"x", "file", None),
                ("checkpoint/parent", b"", "sym", "../../../etc"),
                ("checkpoint/link", b"", "hard", "../../etc/passwd"),
                ("checkpoint/pstree.img", pstree, "file", None)], fmt=tarfile.PAX_FORMAT)
    save("archive_source", b"\x00" + evil)
    oci(tar, ctr)


def oci(tar, ctr):
    """archive_source seeds of checkpoint images: an OCI layout (oci-archive) whose gzip layer is
    the small container archive `ctr`, a docker-archive of it with its layer behind a link, and
    hostile ones: a missing blob, a descriptor whose size lies, a digest that is a path, a blob
    altered after it was named, a link out of the archive, a gzip bomb as the layer."""
    import gzip

    def blob(b):
        return "sha256:" + hashlib.sha256(b).hexdigest(), len(b)

    def layout(layer, edit=None, extra=(), level=1):
        gz = gzip.compress(layer, level)
        ld, ll = blob(gz)
        cfg = b"{}"
        cd, cl = blob(cfg)
        man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cl},
               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ll}],
               "annotations": {"io.podman.annotations.checkpoint.name": "fuzz"}}
        if edit:
            edit(man)
        mb = json.dumps(man).encode()
        md, ml = blob(mb)
        index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                    "digest": md, "size": ml,
                                                    "annotations": {"org.opencontainers.image.ref.name": "fuzz:1"}}]}
        members = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', "file", None),
                   ("index.json", json.dumps(index).encode(), "file", None)]
        for d, b in ((ld, gz), (cd, cfg), (md, mb)):
            members.append(("blobs/sha256/" + d[7:], b, "file", None))
        return tar(members + list(extra))

    save("archive_source", b"\x00" + layout(ctr))
    save("archive_source", b"\x00" + layout(ctr, lambda m: m["layers"][0].update(digest="sha256:" + "a" * 64)))
    save("archive_source", b"\x00" + layout(ctr, lambda m: m["layers"][0].update(size=1 << 40)))
    save("archive_source", b"\x00" + layout(ctr, lambda m: m["layers"][0].update(digest="sha256:../../etc/passwd")))
    save("archive_source", b"\x00" + layout(ctr, extra=[("blobs/sha256/" + "b" * 64, b"", "sym", "/etc/passwd")]))
    # 8 MiB of zeros in a few KiB: past the fuzz target's 4 MiB limit.
    save("archive_source", b"\x00" + layout(b"\0" * (8 << 20), level=9))
    altered = layout(ctr, lambda m: m["annotations"].update({"x": "yy"}))
    save("archive_source", b"\x00" + altered.replace(b'"x": "yy"', b'"x": "zz"'))
    # docker-archive: manifest.json, the layer behind a link inside the archive.
    dm = [{"Config": "c.json", "RepoTags": ["localhost/fuzz:1"], "Layers": ["l/layer.tar"]}]
    save("archive_source", b"\x00" + tar([
        ("manifest.json", json.dumps(dm).encode(), "file", None),
        ("c.json", b'{"rootfs":{"diff_ids":["sha256:00"]}}', "file", None),
        ("d.tar", ctr, "file", None),
        ("l/layer.tar", b"", "sym", "../d.tar")]))
    save("archive_source", b"\x00" + tar([
        ("manifest.json", json.dumps(dm).encode(), "file", None),
        ("l/layer.tar", b"", "sym", "../../outside.tar")]))


def fragmented(gen_dir=None):
    """Fragmented layouts: many one-page pagemap entries with one-page holes between
    them, address-adjacent entries from the dump and its parent (two pages files), runs of a
    few pages; and, from a gen_checkpoint image dir, a whole fragmented checkpoint."""
    P, PA = 4, 1
    # 96 one-page entries, a hole after each.
    runs = [(0x7f0000000000 + 2 * i * 4096, 1, P) for i in range(96)]
    save("page_index", split([("pagemap-1.img", pagemap(1, runs)), ("pages-1.img", pages(96, 11))]))
    # Alternating dump / parent pages at adjacent addresses, then runs of 3 pages between holes.
    runs = [(0x10000 + i * 4096, 1, P if i % 2 else PA) for i in range(32)]
    runs += [(0x40000 + 4 * i * 4096, 3, P) for i in range(8)]
    parent = [(0x10000 + i * 4096, 1, P) for i in range(0, 32, 2)]
    save("page_index", split([
        ("pagemap-1.img", pagemap(2, runs)), ("pages-2.img", pages(16 + 24, 40)),
        ("parent/pagemap-1.img", pagemap(1, parent)), ("parent/pages-1.img", pages(16, 90)),
    ]))
    if gen_dir:
        dump = os.path.join(gen_dir, "img", "dump")
        files = read_dir(dump, 4 * 4096)
        pre = os.path.join(gen_dir, "img", "predump")
        if os.path.isdir(pre):
            files += [("parent/" + n, b) for n, b in read_dir(pre, 4096)
                      if n.startswith(("pagemap-", "pages-"))]
        data = split(files)
        if len(data) > 65536:
            sys.exit(f"mkcorpus: the images of {gen_dir} take {len(data)} bytes (> 64 KiB max_len)")
        save("model_render", data)


if __name__ == "__main__":
    if FRAGMENTED:
        fragmented(sys.argv[2] if len(sys.argv) > 2 else None)
    else:
        main()
        fragmented()
