"""Download + MD5 + extraction against a loopback HTTP server (no real network)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import tarfile
import threading

import pytest

from facebench.cli import main
from facebench.data.download import SOURCES, Source, download
from facebench.errors import DataError


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    (served / "lfw-deepfunneled" / "P").mkdir(parents=True)
    (served / "lfw-deepfunneled" / "P" / "P_0001.jpg").write_bytes(b"jpeg bytes")
    with tarfile.open(served / "lfw-deepfunneled.tgz", "w:gz") as tar:
        tar.add(served / "lfw-deepfunneled", arcname="lfw-deepfunneled")
    (served / "pairs.txt").write_text("1\t1\nP\t1\t1\nP\t1\tP\t1\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_download_verifies_and_extracts(server, tmp_path):
    served, url = server
    sources = {
        "lfw": (
            Source("unused", "lfw-deepfunneled.tgz", _md5(served / "lfw-deepfunneled.tgz"), True),
            Source("unused", "pairs.txt", _md5(served / "pairs.txt"), False),
        )
    }
    root = download("lfw", tmp_path / "out", mirror=url, sources=sources)
    assert (root / "lfw-deepfunneled" / "P" / "P_0001.jpg").read_bytes() == b"jpeg bytes"
    assert (root / "pairs.txt").read_text().startswith("1\t1")


def test_checksum_mismatch_is_a_data_error(server, tmp_path, capsys):
    _, url = server
    # The official checksums cannot match the small archive served here.
    with pytest.raises(DataError, match=r"lfw-deepfunneled.tgz: download from .* failed its MD5 check"):
        download("lfw", tmp_path / "out", mirror=url)
    assert main(["data", "download", "lfw", "--root", str(tmp_path / "cli"), "--mirror", url]) == 2
    assert "MD5" in capsys.readouterr().err


def test_official_sources():
    assert SOURCES["cifar10"][0].md5 == "c58f30108f718f92721af3b95e74349a"
    assert (
        SOURCES["lfw"][0].base_url + SOURCES["lfw"][0].filename
        == "http://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz"
    )
