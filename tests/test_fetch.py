from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
import torch

from arst.data import fetch
from arst.data.fetch import STYLE_IMAGES, download, fetch_coco, fetch_style, fetch_vgg
from arst.data.images import list_images
from arst.errors import ConfigError, DataError, FetchError


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture
def mosaic(shared_images) -> bytes:
    return (shared_images / "mosaic.jpg").read_bytes()


def test_pinned_table_matches_the_reference_bytes(shared_images):
    for name, (url, digest, size) in STYLE_IMAGES.items():
        data = (shared_images / f"{name}.jpg").read_bytes()
        assert (sha(data), len(data)) == (digest, size)
        assert url.endswith(f"/style-images/{name}.jpg")
    url, digest, size = fetch.CONTENT_IMAGES["amber"]
    assert sha((shared_images / "amber.jpg").read_bytes()) == digest


def test_fetch_style_downloads_and_verifies(http_server, mosaic, tmp_path):
    http_server.serve("/mirror/style-images/mosaic.jpg", mosaic)
    dest = tmp_path / "styles" / "mosaic.jpg"
    assert fetch_style("mosaic", dest, base_url=http_server.url("/mirror/")) == dest
    assert dest.read_bytes() == mosaic
    assert not dest.with_name("mosaic.jpg.part").exists()
    assert http_server.requests == [("/mirror/style-images/mosaic.jpg", None)]


def test_cut_connection_resumes_with_range(http_server, mosaic, tmp_path):
    url = http_server.serve("/m.jpg", mosaic, mode="cut")
    dest = tmp_path / "m.jpg"
    download(url, dest, sha256=sha(mosaic), size=len(mosaic), backoff=0, progress=False, chunk_size=4096)
    (first, no_range), (second, resume) = http_server.requests
    assert first == second == "/m.jpg" and no_range is None
    # urllib3 drops the last incomplete chunk, so the part holds whole chunks of the half sent.
    assert 0 < int(resume.removeprefix("bytes=").removesuffix("-")) <= len(mosaic) // 2
    assert sha(dest.read_bytes()) == sha(mosaic)


def test_server_ignoring_range_starts_over(http_server, mosaic, tmp_path):
    url = http_server.serve("/m.jpg", mosaic, mode="norange")
    dest = tmp_path / "m.jpg"
    dest.with_name("m.jpg.part").write_bytes(mosaic[:1000])
    download(url, dest, sha256=sha(mosaic), progress=False)
    assert http_server.requests == [("/m.jpg", "bytes=1000-")]
    assert dest.read_bytes() == mosaic


def test_complete_part_and_416_is_verified(http_server, mosaic, tmp_path):
    url = http_server.serve("/m.jpg", mosaic)
    dest = tmp_path / "m.jpg"
    dest.with_name("m.jpg.part").write_bytes(mosaic)
    download(url, dest, sha256=sha(mosaic), progress=False)
    assert http_server.requests == [("/m.jpg", f"bytes={len(mosaic)}-")]
    assert dest.read_bytes() == mosaic


def test_wrong_bytes_refused_and_removed(http_server, mosaic, tmp_path):
    http_server.serve("/style-images/mosaic.jpg", mosaic, mode="wrong")
    dest = tmp_path / "mosaic.jpg"
    with pytest.raises(FetchError) as info:
        fetch_style("mosaic", dest, base_url=http_server.base)
    msg = str(info.value)
    assert str(dest) in msg and "/style-images/mosaic.jpg" in msg
    assert STYLE_IMAGES["mosaic"][1] in msg and sha(bytes(b ^ 0xFF for b in mosaic)) in msg
    assert list(tmp_path.iterdir()) == []


def test_wrong_size_refused(http_server, mosaic, tmp_path):
    url = http_server.serve("/m.jpg", mosaic[:-10])
    with pytest.raises(FetchError, match=f"expected {len(mosaic)} bytes, got {len(mosaic) - 10}"):
        download(url, tmp_path / "m.jpg", size=len(mosaic), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_server_down_says_how_to_supply_the_file(http_server, mosaic, tmp_path):
    dest = tmp_path / "m.jpg"
    with pytest.raises(FetchError) as info:
        download(http_server.down_url("/m.jpg"), dest, sha256=sha(mosaic), retries=1, backoff=0, progress=False)
    msg = str(info.value)
    assert f"to {dest}" in msg and f"copy the file to {dest} yourself" in msg and sha(mosaic) in msg


def test_server_errors_are_retried_a_bounded_number_of_times(http_server, mosaic, tmp_path):
    url = http_server.serve("/m.jpg", mosaic, mode="busy")
    with pytest.raises(FetchError, match="503"):
        download(url, tmp_path / "m.jpg", retries=2, backoff=0, progress=False)
    assert len(http_server.requests) == 3


def test_http_404_is_not_retried(http_server, tmp_path):
    with pytest.raises(FetchError, match="404"):
        download(http_server.url("/missing"), tmp_path / "x", backoff=0, progress=False)
    assert len(http_server.requests) == 1


def test_existing_verified_file_is_not_downloaded(http_server, mosaic, tmp_path):
    http_server.serve("/style-images/mosaic.jpg", mosaic)
    dest = tmp_path / "mosaic.jpg"
    dest.write_bytes(mosaic)
    fetch_style("mosaic", dest, base_url=http_server.base)
    assert http_server.requests == []


def test_existing_bad_file_is_downloaded_again(http_server, mosaic, tmp_path):
    http_server.serve("/style-images/mosaic.jpg", mosaic)
    dest = tmp_path / "mosaic.jpg"
    dest.write_bytes(b"stale")
    fetch_style("mosaic", dest, base_url=http_server.base)
    assert dest.read_bytes() == mosaic and len(http_server.requests) == 1


def test_unknown_style_lists_names(tmp_path):
    with pytest.raises(ConfigError, match="mosaic, candy, udnie"):
        fetch_style("starry", tmp_path / "s.jpg")


def test_sha256_prefix(http_server, mosaic, tmp_path):
    url = http_server.serve("/m.jpg", mosaic)
    download(url, tmp_path / "ok.jpg", sha256_prefix=sha(mosaic)[:8], progress=False)
    with pytest.raises(FetchError, match="starting with 00000000"):
        download(url, tmp_path / "bad.jpg", sha256_prefix="00000000", progress=False)
    assert not (tmp_path / "bad.jpg").exists()


def test_sha256_of_a_file_is_its_published_digest(tmp_path):
    from arst.io import sha256
    (tmp_path / "abc").write_bytes(b"abc")  # FIPS 180-2's first example
    assert sha256(tmp_path / "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _coco_zip(shared_images) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name in ["mosaic.jpg", "udnie.jpg"]:
            z.write(shared_images / name, f"train2014/COCO_train2014_{name}")
    return buf.getvalue()


def test_fetch_coco_extracts_once(http_server, shared_images, tmp_path):
    body = _coco_zip(shared_images)
    url = http_server.serve("/zips/train2014.zip", body)
    images = fetch_coco(tmp_path / "coco", url=url, size=len(body))
    assert images == tmp_path / "coco" / "train2014"
    assert (images / ".complete").exists()
    assert [p.name for p in list_images(images)] == ["COCO_train2014_mosaic.jpg", "COCO_train2014_udnie.jpg"]
    assert (images / "COCO_train2014_udnie.jpg").read_bytes() == (shared_images / "udnie.jpg").read_bytes()
    assert sorted(p.name for p in (tmp_path / "coco").iterdir()) == ["train2014", "train2014.zip"]
    assert fetch_coco(tmp_path / "coco", url=url, size=len(body)) == images
    assert len(http_server.requests) == 1


def test_fetch_coco_corrupt_zip_refused(http_server, shared_images, tmp_path):
    body = bytearray(_coco_zip(shared_images))
    body[5000:5100] = bytes(100)  # inside the first member's data: same size, bad CRC
    url = http_server.serve("/zips/train2014.zip", bytes(body))
    with pytest.raises(FetchError, match="CRC"):
        fetch_coco(tmp_path / "coco", url=url, size=len(body))
    assert list((tmp_path / "coco").iterdir()) == []


def test_fetch_coco_leaves_a_folder_it_did_not_extract_alone(tmp_path):
    (tmp_path / "coco" / "train2014").mkdir(parents=True)  # no .complete marker
    with pytest.raises(DataError, match="content.coco_existing"):
        fetch_coco(tmp_path / "coco", url="http://127.0.0.1:9/never")  # refused before any request


def _state_dict_bytes(state) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def test_fetch_vgg_places_and_checks_weights(http_server, tmp_path, monkeypatch):
    from torchvision.models import VGG16_Weights

    body = _state_dict_bytes({"features.0.weight": torch.zeros(1)})
    # No real 528 MB file here: pretend torchvision names a file whose hash prefix fits this one.
    name = f"vgg16-{sha(body)[:8]}.pth"
    monkeypatch.setattr(VGG16_Weights.IMAGENET1K_V1.value, "url", f"https://download.pytorch.org/models/{name}")
    url = http_server.serve(f"/mirror/{name}", body)
    path = fetch_vgg("vgg16", tmp_path / "torch", url=url)
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / name
    assert path.read_bytes() == body


def test_fetch_vgg_refuses_bytes_that_do_not_match_the_name(http_server, tmp_path):
    body = _state_dict_bytes({"features.0.weight": torch.zeros(1)})
    url = http_server.serve("/vgg19.pth", body)
    with pytest.raises(FetchError, match="starting with dcbb9e9d"):
        fetch_vgg("vgg19", tmp_path / "torch", url=url)
    assert not (tmp_path / "torch" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth").exists()


def test_fetch_vgg_refuses_a_file_without_vgg_weights(http_server, tmp_path, monkeypatch):
    from torchvision.models import VGG16_Weights

    body = _state_dict_bytes({"classifier.0.weight": torch.zeros(1)})
    name = f"vgg16-{sha(body)[:8]}.pth"
    monkeypatch.setattr(VGG16_Weights.IMAGENET1K_V1.value, "url", f"https://download.pytorch.org/models/{name}")
    with pytest.raises(FetchError, match="features.0.weight"):
        fetch_vgg("vgg16", tmp_path / "torch", url=http_server.serve(f"/{name}", body))


def test_fetch_vgg_unknown_arch(tmp_path):
    with pytest.raises(ConfigError, match="vgg16, vgg19"):
        fetch_vgg("resnet50", tmp_path)


def test_fetch_ort_web_downloads_the_pinned_tarball_and_verifies_it(http_server, tmp_path, monkeypatch):
    from arst.data.fetch import ORT_WEB, ORT_WEB_FILE, fetch_ort_web

    # The pin names one file of the npm registry, by its version.
    assert ORT_WEB["url"] == f"https://registry.npmjs.org/onnxruntime-web/-/{ORT_WEB_FILE}"
    assert ORT_WEB_FILE == f"onnxruntime-web-{ORT_WEB['version']}.tgz" and len(ORT_WEB["sha256"]) == 64
    # No real 33 MB tarball here: a stand-in, pinned as if it were the one.
    body = bytes(range(256)) * 300
    monkeypatch.setitem(ORT_WEB, "sha256", sha(body))
    monkeypatch.setitem(ORT_WEB, "bytes", len(body))
    url = http_server.serve(f"/onnxruntime-web/-/{ORT_WEB_FILE}", body, mode="cut")
    dest = tmp_path / "resources" / ORT_WEB_FILE
    assert fetch_ort_web(dest, url=url) == dest and dest.read_bytes() == body
    assert len(http_server.requests) == 2  # the first connection was cut: tried again
    # Other bytes at that address are refused, and nothing is left behind.
    wrong = http_server.serve("/other.tgz", body[::-1])
    with pytest.raises(FetchError, match=f"expected sha256 {sha(body)}"):
        fetch_ort_web(tmp_path / "other.tgz", url=wrong)
    assert not (tmp_path / "other.tgz").exists() and not (tmp_path / "other.tgz.part").exists()
