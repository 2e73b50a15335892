#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""GET /firmwares: the text listing for people and the JSON listing for scripts."""

import hashlib
import json
import os

from otadtest import (OtadTestCase, block_count, crc32, main, make_block,
                     make_header, vector)


NOT_MADE = "not made (not an ESP image)"


def digest(algorithm, name, data, none=None):
    """The digest the listing shows: made for images that start with the ESP
    magic 0xE9 and for filesystem images (NAME.fs), else @none."""
    if data[:1] == b"\xe9" or name.lower().endswith(".fs"):
        return algorithm(data).hexdigest()
    return none


def paragraphs(text):
    """{name: {key: value}} from the text listing: a name line, then
    indented "key: value" lines, paragraphs separated by a blank line."""
    result, order = {}, []
    for para in text.strip("\n").split("\n\n"):
        lines = para.split("\n")
        name = lines[0].strip()
        fields = {}
        for line in lines[1:]:
            key, sep, value = line.strip().partition(": ")
            if sep:
                fields[key] = value
        result[name] = fields
        order.append(name)
    return result, order


class Listing(OtadTestCase):
    def setUp(self):
        super().setUp()
        self.add_vectors()
        self.images = {
            "vec": (vector("vec.bin"), 7, "file"),
            "alpha": (self.add_image("alpha", os.urandom(5000), version=42), 42, "file"),
            "nover": (self.add_image("nover", os.urandom(300)), 1, "missing"),
            "badver": (self.add_image("badver", os.urandom(10), version="v2"), 1, "invalid"),
            "my fw": (self.add_image("my fw", os.urandom(700), version=5), 5, "file"),
            # JSON must escape these names, not paste them in.
            'q"u\\ote': (self.add_image('q"u\\ote', os.urandom(20), version=2), 2, "file"),
            "\u00fcn\u00ef": (self.add_image("\u00fcn\u00ef", os.urandom(20), version=3), 3, "file"),
            # Valid UTF-8 is served and listed as it is.
            "Pr\u00fcfung": (self.add_image("Pr\u00fcfung", os.urandom(30), version=4), 4, "file"),
            "\u56fa\u4ef6": (self.add_image("\u56fa\u4ef6", os.urandom(40), version=6), 6, "file"),
            # Those an ESP updater can be served have digests.
            "esp": (self.add_image("esp", b"\xe9" + os.urandom(999), version=8), 8, "file"),
            "esp.fs": (self.add_image("esp.fs", os.urandom(500), version=8), 8, "file"),
        }

    def test_text(self):
        """One paragraph per image, sorted by name, with the facts a person
        needs to check a deployment; CRC as 0x%08X (upper case)."""
        d = self.start()
        r = d.get("/firmwares")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
        self.assertEqual(int(r.header("Content-Length")), len(r.body))
        listing, order = paragraphs(r.body.decode("utf-8"))
        self.assertEqual(order, sorted(self.images))
        for name, (data, version, source) in self.images.items():
            f = listing[name]
            if source == "file":
                self.assertEqual(f["version"], "%d (from %s.txt)" % (version, name))
            else:
                self.assertEqual(f["version"], "1 (default: %s.txt %s)" % (name, source))
            self.assertEqual(f["size"], "%d bytes" % len(data))
            self.assertEqual(f["crc32"], "0x%08X" % crc32(data))
            self.assertEqual(f["md5"], digest(hashlib.md5, name, data, NOT_MADE))
            self.assertEqual(f["sha256"], digest(hashlib.sha256, name, data, NOT_MADE))
            self.assertEqual(f["blocks"], "%d x 256 bytes" % block_count(data))
            self.assertIn("%s.bin" % name, f["files"])
            if source == "file":
                self.assertEqual(f["files"], "%s.bin + %s.txt" % (name, name))

    def check_json(self, r):
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("application/json"),
                        r.header("Content-Type"))
        self.assertEqual(int(r.header("Content-Length")), len(r.body))
        items = json.loads(r.body.decode("utf-8"))
        self.assertIsInstance(items, list)
        self.assertEqual([i["name"] for i in items], sorted(self.images))
        for item in items:
            data, version, source = self.images[item["name"]]
            expected = {
                "name": item["name"], "version": version,
                "version_source": "file" if source == "file" else "default",
                "size": len(data), "crc32": crc32(data),
                "crc32_hex": "0x%08X" % crc32(data), "blocks": block_count(data),
                "block_size": 256, "bin_file": item["name"] + ".bin",
                "md5": digest(hashlib.md5, item["name"], data),
                "sha256": digest(hashlib.sha256, item["name"], data),
            }
            got = {k: item.get(k) for k in expected}
            self.assertEqual(got, expected)
            self.assertIn("version_file", item)
            if source != "missing":
                self.assertEqual(item["version_file"], item["name"] + ".txt")
            for k in ("version", "size", "crc32", "blocks", "block_size"):
                self.assertIs(type(item[k]), int, k)

    def test_json_by_query(self):
        d = self.start()
        self.check_json(d.get("/firmwares?format=json"))

    def test_json_with_undecodable_names(self):
        """Names that are not UTF-8 are not served, so the JSON stays JSON
        (and valid UTF-8) with such files in the directory."""
        for raw in (b"\xff\xfe.bin", b"latin1-\xfc.bin", b"\xc0\xafslash.bin"):
            with open(os.path.join(os.fsencode(self.dir), raw), "wb") as f:
                f.write(os.urandom(30))
        d = self.start()
        self.check_json(d.get("/firmwares?format=json"))
        listing, order = paragraphs(d.get("/firmwares").body.decode("utf-8"))
        self.assertEqual(order, sorted(self.images))

    def test_json_by_accept(self):
        """Scripts may ask with an Accept header, possibly among other types."""
        d = self.start()
        self.check_json(d.get("/firmwares", headers=[("Accept", "application/json")]))
        self.check_json(d.get("/firmwares", headers=[
            ("Accept", "text/html, application/json;q=0.9, */*;q=0.1")]))
        # An Accept without application/json stays text.
        r = d.get("/firmwares", headers=[("Accept", "text/plain")])
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")

    def test_url_encoded_name(self):
        """'my fw.bin' is served under /my%20fw/...: the path is decoded
        before the in-memory lookup."""
        d = self.start()
        data, version, _ = self.images["my fw"]
        r = d.get("/my%20fw/header")
        self.assertEqual((r.status, r.body), (200, make_header(data, version)))
        r = d.get("/my%20fw/block/2")
        self.assertEqual((r.status, r.body), (200, make_block(data, 2)))
        self.assertEqual(d.get("/my%20fw/block/3").status, 416)
        data, version, _ = self.images['q"u\\ote']
        r = d.get("/q%22u%5Cote/header")
        self.assertEqual((r.status, r.body), (200, make_header(data, version)))
        data, version, _ = self.images["\u00fcn\u00ef"]
        r = d.get("/%C3%BCn%C3%AF/header")
        self.assertEqual((r.status, r.body), (200, make_header(data, version)))
        data, version, _ = self.images["\u56fa\u4ef6"]
        r = d.get("/%E5%9B%BA%E4%BB%B6/block/0")
        self.assertEqual((r.status, r.body), (200, make_block(data, 0)))
        data, version, _ = self.images["Pr\u00fcfung"]
        r = d.get("/Pr%C3%BCfung/header")
        self.assertEqual((r.status, r.body), (200, make_header(data, version)))

    def test_empty_directory(self):
        """An empty directory is an empty listing, not an error (the
        reference server's 404 here was a bug)."""
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        d = self.start(firmware_dir=empty)
        r = d.get("/firmwares")
        self.assertEqual((r.status, r.body), (200, b"no firmware\n"))
        r = d.get("/firmwares?format=json")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body.strip(), b"[]")
        self.assertEqual(json.loads(r.body), [])
        r = d.get("/firmwares", headers=[("Accept", "application/json")])
        self.assertEqual(json.loads(r.body), [])
        self.assertEqual(d.get("/vec/header").status, 404)


if __name__ == "__main__":
    main()
