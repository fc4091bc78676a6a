"""The alpha explorers: the live page's engine and server (one update at a time, the latest
winning; every bad input a message, the server still up), the static page built from the
sweep's images, and both pages in a real browser (marked `browser`: tests/chromium_plugin.py
says when they run), checked against `arst stylize` at the alpha the page shows."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
import signal
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from arst import checkpoint
from arst.cli import main
from arst.errors import DataError
from arst.experiments.sweep import sweep
from arst.data.fetch import ORT_WEB
from arst.explore.browser import (HALF_TOLERANCE, MAX_SIDE, ORT_MEMBERS, half_weights, ort_web_files,
                                  write_explorer_in_browser)
from arst.explore.live import Explorer, LatestOnly, Superseded, encode_png
from arst.explore.server import make_server, serve_in_thread, url
from arst.explore.static import explorer_data, explorer_html, write_explorer_page
from arst.nn.model import build_model
from arst.recipe import load_recipe
from arst.tables import write_table


def _png(pixels: np.ndarray, path: Path) -> Path:
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


def _picture(width: int, height: int, seed: int) -> np.ndarray:
    """A smooth colour gradient with some noise: structure for the model to change."""
    yy, xx = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(seed)
    rgb = np.stack([xx * 255 / width, yy * 255 / height, (xx + yy) * 128 / (width + height)], -1)
    return np.clip(rgb + rng.integers(0, 40, (height, width, 3)), 0, 255)


def _responsive(recipe_name: str, seed: int):
    """A small model whose conditioner's weights are drawn large, so that every layer's alpha
    visibly changes the output (a freshly built corrected model starts blind to alpha)."""
    recipe = load_recipe(recipe_name, conditioner_width=16, conditioner_depth=1, style_size=32)
    torch.manual_seed(seed)
    model = build_model(recipe, seed)
    with torch.no_grad():
        for m in model.conditioner.modules():
            if isinstance(m, torch.nn.Linear):
                torch.nn.init.normal_(m.weight, 0.0, 0.5)
        if recipe.last_activation == "none":
            # The port's last layer starts near 0 (a black picture): spread it over the grey
            # levels, so comparing its pictures compares something.
            model.stylizer.out.conv.weight.mul_(50.0)
            model.stylizer.out.conv.bias.fill_(128.0)
    return recipe, model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore")
    out = {"root": root, "style": _png(np.random.default_rng(9).integers(0, 255, (48, 48, 3)), root / "style.png"),
           "photo": _png(_picture(64, 48, 0), root / "photo.png"),
           "eval": [_png(_picture(32, 32, k), root / f"eval{k}.png") for k in (1, 2)]}
    for name, draw in (("corrected", 1), ("baseline", 2)):
        recipe, model = _responsive(name, draw)
        out[name] = root / f"{name}.pt"
        # One training seed for both, as the workflow's runs have: the static page puts the
        # implementations of one style and seed side by side.
        checkpoint.save(out[name], checkpoint.provenance(
            recipe=recipe.to_dict(), seed=1, step=7, loss_net="random(seed=0)", loss_weights="random",
            loss_seed=0, model=model.state_dict()))
    return out


def _stylized(checkpoint_path, image, alpha: str, out: Path) -> np.ndarray:
    """What `arst stylize` writes for `image` at `alpha`, as (H, W, 3) pixels."""
    assert main(["stylize", "--checkpoint", str(checkpoint_path), "--alpha", alpha, "--out", str(out),
                 str(image)]) == 0
    return np.asarray(Image.open(out).convert("RGB")).astype(int)


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


# --------------------------------------------------------------------------- the engine


@pytest.mark.parametrize("height,width", [(1, 1), (37, 53), (300, 257)])
def test_a_png_holds_the_exact_pixels_uncompressed(height, width):
    """Any size, and pixels that are a view (to_pixels' transpose), decoded back exactly; stored,
    not compressed: at least a byte per value and one per row (its filter type)."""
    chw = np.random.default_rng(height).integers(0, 256, (3, height, width), dtype=np.uint8)
    pixels = chw.transpose(1, 2, 0)
    png = encode_png(pixels)
    decoded = Image.open(io.BytesIO(png))
    assert decoded.mode == "RGB" and np.array_equal(np.asarray(decoded), pixels)
    flat = np.zeros_like(pixels)  # what any compression would shrink to almost nothing
    assert len(encode_png(flat)) >= height * (3 * width + 1)


def test_a_png_is_of_rgb_bytes_only():
    for bad in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.float32)):
        with pytest.raises(ValueError, match=r"expected \(H, W, 3\) uint8 pixels"):
            encode_png(bad)


def test_latest_only_drops_a_request_that_waited_while_a_newer_one_came():
    gate, release, started = LatestOnly(), threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def slow():
        started.set()
        release.wait(30)
        return "first"

    def submit(name: str, job):
        try:
            results[name] = gate.run("page", job)
        except Superseded:
            results[name] = "dropped"

    threads = [threading.Thread(target=submit, args=("first", slow))]
    threads[0].start()
    assert started.wait(30)
    # Two more slider positions arrive while the first update runs: each takes its ticket
    # (seen through latest_ticket) before the next one comes.
    for name in ("stale", "latest"):
        before = gate.latest_ticket("page")
        threads.append(threading.Thread(target=submit, args=(name, lambda name=name: name)))
        threads[-1].start()
        for _ in range(3000):
            if gate.latest_ticket("page") != before:
                break
            threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(30)
    assert results == {"first": "first", "stale": "dropped", "latest": "latest"}
    assert gate.dropped == 1
    # Another client's request is never dropped for this client's newer one.
    assert gate.run("other tab", lambda: 5) == 5


def test_an_update_is_what_arst_stylize_writes_and_alpha_changes_it(files, tmp_path):
    explorer = Explorer(files["corrected"], [files["photo"]], evaluation=())
    frames = {a: explorer.update("given0", explorer.alpha(a), size=0) for a in ("0,0.5,0", "0,0,0")}
    shown = _decode(frames["0,0.5,0"].png)
    assert shown.shape == (48, 64, 3) and (frames["0,0.5,0"].width, frames["0,0.5,0"].height) == (64, 48)
    expected = _stylized(files["corrected"], files["photo"], "0,0.5,0", tmp_path / "out.png")
    assert np.abs(shown - expected).max() <= 1
    assert np.abs(shown - _decode(frames["0,0,0"].png)).mean() > 1.0  # the model responds to alpha
    assert frames["0,0.5,0"].alpha == [0.0, 0.5, 0.0] and explorer.updates == 2


def test_a_picture_is_shown_with_its_longer_side_at_most_the_size_asked(files, tmp_path):
    wide = _png(_picture(100, 50, 3), tmp_path / "wide.png")
    explorer = Explorer(files["corrected"], [wide], evaluation=())
    frame = explorer.update("given0", explorer.alpha("1,1,1"), size=40)
    assert (frame.width, frame.height) == (40, 20)
    assert _decode(explorer.original("given0", 40)).shape == (20, 40, 3)
    assert _decode(explorer.original("given0", 0)).shape == (50, 100, 3)  # 0: its own size


def test_info_names_the_model_its_loss_network_and_steps(files):
    info = Explorer(files["baseline"], evaluation=("astronaut",)).info()
    assert info["implementation"] == "baseline" and info["train_steps"] == 7 and info["seed"] == 1
    assert info["layers"] == ["relu2_2", "relu3_4", "relu4_4", "relu5_4"]
    assert info["loss_net"] == "random(seed=0)" and "RANDOM" in info["loss_net_words"]
    assert [p["key"] for p in info["pictures"]] == ["eval-astronaut"] and info["default_size"] == 256


def test_latency_is_measured_per_size(files, capsys, monkeypatch):
    from arst import export
    from arst.export import onnx_available
    monkeypatch.setattr(export, "CALIBRATION_SIZE", 64)  # the preview the verb makes: on small squares
    monkeypatch.setattr(export, "CHECK_SIZE", 64)
    explorer = Explorer(files["corrected"], evaluation=())
    latency = explorer.measure_latency((32, 48), repeats=1, warmup=0)
    assert sorted(latency) == [32, 48]
    assert all(0 < t["model_ms"] <= t["update_ms"] for t in latency.values())
    assert main(["explore", "--checkpoint", str(files["corrected"]), "--bench", "--bench-sizes", "32,40",
                 "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"one update at 32x32 on cpu: \d+ ms", out) and "one update at 40x40 on cpu" in out
    if onnx_available():  # the verb's default engine is onnxruntime where installed: it tries a preview
        assert "preview while a slider moves: none (the int8 preview differs from fp32 by" in out
    assert "RANDOM VGG weights" in out and "trained 7 steps" in out


def test_a_preview_is_int8_within_its_tolerance_and_asked_for_by_name(files, tmp_path, monkeypatch, caplog):
    from arst import export
    if not export.onnx_available():
        pytest.skip("no onnxruntime: no preview (test_export checks the message)")
    from arst.runtime import Runtime
    onnxruntime = Runtime.resolve("cpu", engine="onnxruntime", compile=False)
    # Calibrated and checked on small squares: the same code, a quarter of the arithmetic.
    monkeypatch.setattr(export, "CALIBRATION_SIZE", 64)
    monkeypatch.setattr(export, "CHECK_SIZE", 64)
    # This hand-made model's int8 form is far from its fp32 one (17 grey levels on average; a
    # corrected model trained 1,000 steps: 3.6): refused, and the exact model previews.
    explorer = Explorer(files["corrected"], [files["photo"]], onnxruntime, evaluation=())
    assert re.fullmatch(r"none \(the int8 preview differs from fp32 by [\d.]+ grey levels on average, more than "
                        r"its tolerance 6\)", explorer.info()["preview"])
    assert "the exact model previews too" in caplog.text
    assert explorer.update("given0", explorer.alpha("1,1,1"), 0, "preview").quality == "exact"
    # Its quantized form was cached all the same: with a tolerance it meets, it is taken.
    monkeypatch.setattr(export, "PREVIEW_TOLERANCE", 40.0)
    caplog.clear()
    with caplog.at_level("INFO", logger="arst"):
        explorer = Explorer(files["corrected"], [files["photo"]], onnxruntime, evaluation=())
    assert "reused the int8 preview cached in" in caplog.text
    assert explorer.info()["preview"].startswith("int8, within")
    alpha = explorer.alpha("0,0.5,1")
    exact, preview = (explorer.update("given0", alpha, 0, q) for q in ("exact", "preview"))
    assert (exact.quality, preview.quality) == ("exact", "preview")
    shown, previewed = _decode(exact.png), _decode(preview.png)
    assert shown.shape == previewed.shape == (48, 64, 3)
    assert 0 < np.abs(shown - previewed).mean() <= export.PREVIEW_TOLERANCE  # int8: near, never the same
    expected = _stylized(files["corrected"], files["photo"], "0,0.5,1", tmp_path / "out.png")
    assert np.abs(shown - expected).max() <= 1  # the exact picture is what `arst stylize` writes
    latency = explorer.measure_latency((32,), repeats=1, warmup=0)
    assert set(latency[32]) == {"model_ms", "update_ms", "preview_model_ms", "preview_update_ms"}
    assert any(line.startswith("one preview at 32x32 (while a slider moves; int8") for line in explorer.latency_lines())
    # Without one, a preview is the exact picture, and the bench says nothing of previews.
    plain = Explorer(files["corrected"], [files["photo"]], onnxruntime, evaluation=(), preview=False)
    assert plain.info()["preview"] == "off"
    frame = plain.update("given0", alpha, 0, "preview")
    assert frame.quality == "exact" and np.array_equal(_decode(frame.png), shown)
    plain.measure_latency((32,), repeats=1, warmup=0)
    assert not any("preview" in line for line in plain.latency_lines())


# --------------------------------------------------------------------------- the server


@pytest.fixture
def server(files):
    explorer = Explorer(files["corrected"], [files["photo"]], evaluation=(), max_pixels=3500,
                        max_upload_bytes=20_000)
    httpd = make_server(explorer)
    serve_in_thread(httpd)
    yield url(httpd), explorer
    httpd.shutdown()
    httpd.server_close()


def _call(address: str, data: bytes | None = None) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(address, data=data), timeout=60) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def _error(address: str, data: bytes | None = None) -> tuple[int, str]:
    status, body, _ = _call(address, data)
    return status, json.loads(body)["error"]


def test_every_bad_input_gets_a_message_and_the_server_goes_on(server, tmp_path):
    base, explorer = server
    png = io.BytesIO()
    Image.fromarray(_picture(60, 40, 4).astype(np.uint8)).save(png, format="PNG")
    good = png.getvalue()
    assert _error(base + "api/upload?name=notes.txt", b"just text") == (
        400, "notes.txt: not an image file PIL can read")
    status, message = _error(base + "api/upload?name=cut.png", good[: len(good) // 2])
    assert status == 400 and message.startswith("cut.png: cannot decode")
    status, message = _error(base + "api/upload?name=empty.png", b"")
    assert status == 400 and message == "empty.png: empty file (0 bytes)"
    huge = io.BytesIO()
    Image.new("RGB", (100, 40)).save(huge, format="PNG")  # 4,000 pixels; the limit is 3,500
    assert _error(base + "api/upload?name=huge.png", huge.getvalue()) == (
        400, "huge.png: too large: 100x40 = 4,000 pixels, more than the 3,500 allowed")
    assert _error(base + "api/upload?name=big.png", good + bytes(20_000)) == (
        413, f"big.png: {len(good) + 20_000:,} bytes, more than the 20,000 bytes an upload may have")
    assert _error(base + "api/frame?picture=given0&alpha=0,2,0") == (
        400, "alpha = [0.0, 2.0, 0.0]: every alpha must lie in [0, 1], and 2.0 does not")
    assert _error(base + "api/frame?picture=given0&alpha=0,nan,0")[0] == 400
    status, message = _error(base + "api/frame?picture=given0&alpha=0,1")
    assert status == 400 and "has 2 values, but recipe 'corrected' has 3 style layers" in message
    assert _error(base + "api/frame?picture=elsewhere&alpha=0,1,0")[1].startswith("no picture 'elsewhere'")
    assert _error(base + "api/frame?picture=given0&alpha=0,1,0&size=lots")[0] == 400
    assert _error(base + "api/frame?picture=given0&alpha=0,1,0&quality=best") == (
        400, "quality = 'best': expected one of exact, preview")
    assert _error(base + "api/nothing")[0] == 404

    # After all that, an upload and an update work as ever.
    status, body, _ = _call(base + "api/upload?name=fine.png", good)
    assert status == 200 and json.loads(body) == {"key": "upload1", "name": "fine.png", "origin": "upload"}
    status, body, headers = _call(base + "api/frame?picture=upload1&alpha=1,0,0.25&client=t")
    assert status == 200 and headers["Content-Type"] == "image/png" and headers["X-Arst-Alpha"] == "1,0,0.25"
    assert _decode(body).shape == (40, 60, 3) and headers["X-Arst-Quality"] == "exact"
    status, body, headers = _call(base + "api/frame?picture=upload1&alpha=1,0,0.25&client=t&quality=preview")
    assert status == 200 and headers["X-Arst-Quality"] == ("preview" if explorer.info()["preview"] != "off" and
                                                           explorer.info()["preview"].startswith("int8") else "exact")
    info = json.loads(_call(base + "api/info")[1])
    assert [p["key"] for p in info["pictures"]] == ["given0", "upload1"] and info["updates"] == 2
    status, page, _ = _call(base)
    assert status == 200 and b"arst explore" in page and b"/*EXPLORE_CSS*/" not in page


def test_the_explore_verb_serves_until_interrupted(files):
    # The child gets SIGINT's default disposition: a suite started in the background inherits
    # SIGINT ignored, and Python then installs no KeyboardInterrupt handler, so the server
    # would never stop (seen: a hung explore with SIGINT in its ignored mask).
    proc = subprocess.Popen([sys.executable, "-m", "arst", "explore", "--checkpoint", str(files["corrected"]),
                             "--repeats", "0", str(files["photo"])],
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "open http://" in line:
                break
        address = re.search(r"open (http://127\.0\.0\.1:\d+/)", "".join(lines)).group(1)
        info = json.loads(_call(address + "api/info")[1])
        assert info["implementation"] == "corrected" and info["pictures"][0]["name"] == "photo.png"
    finally:
        proc.send_signal(signal.SIGINT)
        # communicate, not wait: it drains stderr, which a process blocked writing to a full
        # pipe (the ONNX export's warnings on a first start) could otherwise never exit past.
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err


def test_a_bad_picture_on_the_command_line_is_one_line(files, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    assert main(["explore", "--checkpoint", str(files["corrected"]), "--repeats", "0", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"arst explore: error: {bad}: not an image file PIL can read"


# --------------------------------------------------------------------------- the static page


@pytest.fixture(scope="module")
def sweep_page(files):
    """Both models swept (3 points, others at 0 and 1) on two 32 px pictures, and the page."""
    root = files["root"]
    tables = []
    for impl in ("corrected", "baseline"):
        table = sweep(files[impl], files["style"], files["eval"], size=32, points=3, style_name="tiny",
                      image_dir=root / "sweep" / impl)
        tables.append(root / f"{impl}.csv")
        write_table(table, tables[-1])
    page = root / "explorer" / "index.html"
    write_explorer_page(tables, page)
    return {"tables": tables, "page": page}


def _page_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_static_page_holds_every_sweep_image(sweep_page):
    data = _page_data(sweep_page["page"].read_text())
    table = pd.concat([pd.read_csv(t) for t in sweep_page["tables"]])
    named = table.drop_duplicates(["implementation", "image", "others", "swept_layer", "alpha"])
    # 2 pictures x others (0, 1) x 3 alphas x (3 corrected + 4 baseline layers)
    assert len(named) == data["frame_count"] == 2 * 2 * 3 * 7
    assert (named["image_file"].str.contains("/others1/") == (named["others"] == 1.0)).all()
    assert data["others"] == [0.0, 1.0] and data["alphas"] == [0.0, 0.5, 1.0]
    assert data["layers"] == ["relu2_2", "relu3_4", "relu4_4", "relu5_4"]
    assert [i["name"] for i in data["implementations"]] == ["corrected", "baseline"]
    assert "relu5_4" not in data["frames"]["corrected"]["tiny|1"]["eval1"]["0"]
    for row in named.itertuples():
        uri = data["uris"][data["frames"][row.implementation]["tiny|1"][row.image][f"{row.others:g}"][
            row.swept_layer][data["alphas"].index(row.alpha)]]
        assert base64.b64decode(uri.removeprefix("data:image/png;base64,")) == Path(row.image_file).read_bytes()
    # All-zero alphas are one image whichever layer is "swept" at 0: stored once.
    assert len(data["uris"]) < data["frame_count"]


def test_static_page_data_cannot_end_its_script_early():
    data = {"images": ["</script><script>alert(1)</script>"], "uris": []}
    html = explorer_html(data)
    assert _page_data(html) == data and "alert(1)</script>" not in html


def test_static_page_errors_name_the_tables_and_files(sweep_page, tmp_path):
    table = pd.read_csv(sweep_page["tables"][0])
    with pytest.raises(DataError, match="the image_file column is empty"):
        explorer_data(table.assign(image_file=""), "t.csv")
    gone = table.assign(image_file=table["image_file"].str.replace("sweep", "nowhere"))
    with pytest.raises(DataError, match=r"t.csv: image .*nowhere.* not found"):
        explorer_data(gone, "t.csv")
    with pytest.raises(DataError, match="no column"):
        explorer_data(table.drop(columns=["image_file"]), "t.csv")
    with pytest.raises(DataError, match="sweep table not found"):
        write_explorer_page([tmp_path / "missing.csv"], tmp_path / "index.html")


# --------------------------------------------------------------------------- in a browser

PIXELS = """
const img = arguments[0], canvas = document.createElement("canvas");
canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
const context = canvas.getContext("2d");
context.drawImage(img, 0, 0);
return [canvas.width, canvas.height, Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data)];
"""


def _displayed(driver, img) -> np.ndarray:
    """The pixels the page shows in `img`, as the browser decoded them."""
    width, height, rgba = driver.execute_script(PIXELS, img)
    return np.array(rgba, dtype=int).reshape(height, width, 4)[..., :3]


def _wait(driver, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, 120, poll_frequency=0.05).until(
        lambda d: condition(d), message=f"the page never showed {what}")


def _idle_with(driver, selector: str, alpha: str):
    def shown(d):
        if d.execute_script("return document.body.dataset.state") != "idle":
            return None
        img = d.find_element("css selector", selector)
        return img if img.get_attribute("data-alpha") == alpha else None
    return _wait(driver, shown, f"{selector} at alpha {alpha}")


@pytest.fixture
def live_page(files, chrome):
    explorer = Explorer(files["corrected"], [files["photo"]], evaluation=())
    httpd = make_server(explorer)
    serve_in_thread(httpd)
    chrome.get(url(httpd))
    yield chrome, explorer
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.browser
def test_live_page_restylizes_as_a_slider_moves(live_page, files, tmp_path, screenshots, monkeypatch):
    from selenium.webdriver.common.keys import Keys
    driver, explorer = live_page
    start = _idle_with(driver, "#stylized", "1.00,1.00,1.00")  # the recipe's alpha
    before = _displayed(driver, start)
    facts = driver.find_element("id", "facts").text
    assert "RANDOM VGG weights" in facts and "trained 7 steps" in facts
    assert [e.text for e in driver.find_elements("css selector", ".slider label")] == ["relu2_2", "relu3_4", "relu4_4"]

    # From here each update waits until the test lets it run, so the positions a user drags
    # through meanwhile pile up: all but the latest must be dropped, never queued.
    entered, release, updated = threading.Event(), threading.Event(), []
    update = explorer.update

    def held_update(key, alpha, size, quality="exact"):
        updated.append((alpha[0].tolist(), quality))
        entered.set()
        assert release.wait(60)
        return update(key, alpha, size, quality)
    monkeypatch.setattr(explorer, "update", held_update)
    slider = driver.find_element("id", "alpha-relu3_4")
    slider.send_keys(Keys.HOME)  # relu3_4 to 0: this update starts, and is held
    assert entered.wait(60)
    slider.send_keys(Keys.ARROW_RIGHT * 50)  # then 50 positions, up to 0.5, while it runs
    release.set()
    img = _idle_with(driver, "#stylized", "1.00,0.50,1.00")
    # A key moves the slider and lets it go: a preview, then the exact picture, is asked each
    # time. The first key's preview ran; its exact picture and 49 of the 50 positions after it
    # were skipped; the last position's exact picture is what the page shows.
    assert updated == [([1.0, 0.0, 1.0], "preview"), ([1.0, 0.5, 1.0], "exact")]
    assert "Skipped while busy: 50 slider positions here" in driver.find_element("id", "status").text
    assert "this update (exact)" in driver.find_element("id", "status").text
    after = _displayed(driver, img)
    driver.save_screenshot(f"{screenshots}/live.png")
    expected = _stylized(files["corrected"], files["photo"], "1.00,0.50,1.00", tmp_path / "stylized.png")
    assert after.shape == expected.shape == (48, 64, 3)
    assert np.abs(after - expected).max() <= 1
    assert np.abs(after - before).mean() > 1.0  # the image changed


@pytest.mark.browser
def test_live_page_says_what_is_wrong_with_an_upload_and_goes_on(live_page, files, tmp_path, screenshots):
    driver, explorer = live_page
    _idle_with(driver, "#stylized", "1.00,1.00,1.00")
    broken = tmp_path / "broken.png"
    broken.write_bytes(files["photo"].read_bytes()[:300])
    driver.find_element("id", "upload").send_keys(str(broken))
    message = _wait(driver, lambda d: d.find_element("id", "message").text, "a message")
    assert message.startswith("broken.png: cannot decode")
    driver.save_screenshot(f"{screenshots}/live-bad-upload.png")
    good = _png(_picture(40, 30, 5), tmp_path / "good.png")
    driver.find_element("id", "upload").send_keys(str(good))
    _wait(driver, lambda d: d.find_element("id", "stylized").get_attribute("data-picture") == "upload1"
          and d.execute_script("return document.body.dataset.state") == "idle", "the uploaded picture")
    assert driver.find_element("id", "message").text == ""
    assert _displayed(driver, driver.find_element("id", "stylized")).shape == (30, 40, 3)


@pytest.mark.browser
def test_static_page_shows_the_sweep_image_at_the_slider_alpha(sweep_page, files, chrome, tmp_path, screenshots):
    from selenium.webdriver.common.keys import Keys
    chrome.get(sweep_page["page"].as_uri())
    corrected = '[data-implementation="corrected"] img'
    before = _displayed(chrome, _idle_with(chrome, corrected, "0.00,0.00,0.00"))
    chrome.find_element("id", "alpha-relu3_4").send_keys(Keys.ARROW_RIGHT)  # 0 -> 0.5
    after = _displayed(chrome, _idle_with(chrome, corrected, "0.00,0.50,0.00"))
    expected = _stylized(files["corrected"], files["eval"][0], "0,0.5,0", tmp_path / "a.png")
    assert np.abs(after - expected).max() <= 1 and np.abs(after - before).mean() > 1.0
    # The baseline, side by side, at its own alpha vector (it has a fourth layer).
    baseline = _displayed(chrome, _idle_with(chrome, '[data-implementation="baseline"] img', "0.00,0.50,0.00,0.00"))
    expected = _stylized(files["baseline"], files["eval"][0], "0,0.5,0,0", tmp_path / "b.png")
    assert np.abs(baseline - expected).max() <= 1 and baseline.std() > 10
    # The others at 1: the same slider, the other layers at 1.
    chrome.find_element("css selector", 'input[name="others"][value="1"]').click()
    at_one = _displayed(chrome, _idle_with(chrome, corrected, "1.00,0.50,1.00"))
    expected = _stylized(files["corrected"], files["eval"][0], "1,0.5,1", tmp_path / "c.png")
    assert np.abs(at_one - expected).max() <= 1
    # relu5_4 is the baseline's alone: the corrected column says so.
    chrome.find_element("id", "alpha-relu5_4").send_keys(Keys.ARROW_LEFT)  # 1 -> 0.5
    _idle_with(chrome, '[data-implementation="baseline"] img', "1.00,1.00,1.00,0.50")
    assert "corrected has no layer relu5_4" in chrome.find_element(
        "css selector", '[data-implementation="corrected"]').text
    chrome.find_element("css selector", 'input[name="others"][value="0"]').click()
    chrome.find_element("id", "alpha-relu3_4").send_keys(Keys.ARROW_RIGHT)
    _idle_with(chrome, corrected, "0.00,0.50,0.00")
    chrome.save_screenshot(f"{screenshots}/static.png")


# --------------------------------------------------------------------------- the page that runs the model


def _tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return path


@pytest.fixture(scope="module")
def fake_ort_web(tmp_path_factory):
    """A tarball laid out as onnxruntime-web's, with stand-in files: what the page builder copies."""
    members = {"package/package.json": b'{"name": "onnxruntime-web"}',
               ORT_MEMBERS["script"]: b'"use strict";var ort={};',
               ORT_MEMBERS["glue"]: 'export default function(){return "glue \u00e9</script>"}'.encode(),
               ORT_MEMBERS["wasm"]: bytes(range(256)) * 400 + np.random.default_rng(0).bytes(5000)}
    path = _tarball(tmp_path_factory.mktemp("ort") / "onnxruntime-web.tgz", members)
    return {"path": path, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "members": members}


@pytest.fixture(scope="module")
def exported(files):
    """Both small models as `arst export` writes them."""
    from arst.export import export
    out = {}
    for impl in ("corrected", "baseline"):
        out[impl] = files["root"] / f"{impl}.onnx"
        export(files[impl], out[impl])
    return out


def _global(text: str, name: str, key: str | None = None) -> str:
    """The string a classic script of the page's folder sets (browser.script_setting's output)."""
    target = f"window.{name} = " if key is None else f"(window.{name} = window.{name} || {{}})[{json.dumps(key)}] = "
    assert text.startswith(target) and text.endswith(";\n")
    return json.loads(text[len(target):-2])


def _unpacked(text: str) -> bytes:
    return gzip.decompress(base64.b64decode(text))


def test_in_browser_folder_holds_the_engine_each_model_and_the_photos(exported, files, fake_ort_web, tmp_path):
    import onnx
    wide = _png(_picture(300, 200, 6), tmp_path / "wide.png")
    out = tmp_path / "page"
    data = write_explorer_in_browser([("small corrected", exported["corrected"]), ("small baseline", exported["baseline"])],
                                     fake_ort_web["path"], [files["photo"], wide], out,
                                     ort_web_sha256=fake_ort_web["sha256"])
    members = fake_ort_web["members"]
    assert sorted(p.name for p in out.iterdir()) == sorted(data["sizes"]) == [
        "index.html", "model-1.js", "model-2.js", "onnxruntime-web.txt", "ort-glue.js", "ort-wasm.js", "ort.wasm.min.js"]
    assert all((out / name).stat().st_size == size for name, size in data["sizes"].items())
    # onnxruntime-web's files: the bundle as shipped, the glue and the wasm as strings the page reads back.
    assert (out / "ort.wasm.min.js").read_bytes() == members[ORT_MEMBERS["script"]]
    assert _global((out / "ort-glue.js").read_text(), "ARST_ORT_GLUE") == members[ORT_MEMBERS["glue"]].decode()
    assert _unpacked(_global((out / "ort-wasm.js").read_text(), "ARST_ORT_WASM")) == members[ORT_MEMBERS["wasm"]]
    assert fake_ort_web["sha256"] in (out / "onnxruntime-web.txt").read_text()

    page = _page_data((out / "index.html").read_text())
    assert page["max_side"] == MAX_SIDE == 256 and page["ort"]["version"] == ORT_WEB["version"]
    corrected, baseline = page["models"]
    assert (corrected["name"], corrected["implementation"], corrected["file"]) == ("small corrected", "corrected", "model-1.js")
    assert corrected["layers"] == ["relu2_2", "relu3_4", "relu4_4"] and corrected["default_alpha"] == [1.0, 1.0, 1.0]
    assert baseline["layers"] == ["relu2_2", "relu3_4", "relu4_4", "relu5_4"]
    for model in page["models"]:
        assert model["training_steps"] == "7" and model["seed"] == "1" and "RANDOM VGG weights" in model["loss_net_words"]
        assert model["bytes"] == data["sizes"][model["file"]]
    # The corrected model's conditioner, drawn large, moves its output by 1.7 grey levels in
    # half precision, over the tolerance: kept as exported. The baseline's (0.48) is halved.
    fp32 = onnx.load(str(exported["corrected"]))
    stored = onnx.load_from_string(_unpacked(_global((out / "model-1.js").read_text(), "ARST_MODELS", "model-1")))
    assert corrected["weights"] == "float32" and stored == fp32
    halved = onnx.load_from_string(_unpacked(_global((out / "model-2.js").read_text(), "ARST_MODELS", "model-2")))
    assert baseline["weights"] == "float16" and 0 < baseline["difference"] <= HALF_TOLERANCE
    assert baseline["onnx_bytes"] < 0.6 * exported["baseline"].stat().st_size
    assert {p.key: p.value for p in halved.metadata_props}["implementation"] == "baseline"
    # The photos, lossless: the small one as it is, the wide one shrunk to MAX_SIDE.
    assert [(p["name"], p["width"], p["height"]) for p in page["photos"]] == [("photo", 64, 48), ("wide", 256, 171)]
    shown = _decode(base64.b64decode(page["photos"][0]["uri"].removeprefix("data:image/png;base64,")))
    assert np.array_equal(shown, np.asarray(Image.open(files["photo"])).astype(int))
    # Opening the page reads it, the engine and one model, the largest.
    assert data["view_bytes"] == (data["sizes"]["index.html"] + data["sizes"]["ort.wasm.min.js"]
                                  + data["sizes"]["ort-glue.js"] + data["sizes"]["ort-wasm.js"] + data["sizes"]["model-1.js"])

    # Written again with one model, the folder holds no model of the earlier build.
    write_explorer_in_browser([("only", exported["baseline"])], fake_ort_web["path"], [], out,
                              ort_web_sha256=fake_ort_web["sha256"])
    assert not (out / "model-2.js").exists() and [m["name"] for m in _page_data((out / "index.html").read_text())["models"]] == ["only"]


def test_half_weights_compute_as_before_with_weights_rounded(exported):
    import onnx
    import onnxruntime
    proto = onnx.load(str(exported["baseline"]))
    half = half_weights(proto)
    stored = {w.name: w.data_type for w in half.graph.initializer}
    halved = [name for name, kind in stored.items() if kind == onnx.TensorProto.FLOAT16]
    big = [w.name for w in proto.graph.initializer if np.prod(w.dims) >= 1024 and w.data_type == onnx.TensorProto.FLOAT]
    assert sorted(halved) == sorted(f"{name}.float16" for name in big) and len(big) > 10
    onnx.checker.check_model(half)
    # The fp32 weights, rounded to half precision, give the same output as the half file.
    rounded = onnx.ModelProto()
    rounded.CopyFrom(proto)
    for w in rounded.graph.initializer:
        if w.name in big:
            w.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(w).astype(np.float16).astype(np.float32), w.name))
    image, alpha = np.random.default_rng(1).random((1, 3, 40, 56), np.float32) * 255, np.array([[0.2, 1, 0.5, 0]], np.float32)
    outputs = [onnxruntime.InferenceSession(m.SerializeToString()).run(None, {"image": image, "alpha": alpha})[0]
               for m in (half, rounded, proto)]
    assert np.abs(outputs[0] - outputs[1]).max() <= 1e-3
    assert 0 < np.abs(outputs[0] - outputs[2]).max() <= HALF_TOLERANCE


def test_in_browser_page_keeps_fp32_where_half_precision_is_over_the_tolerance(exported, monkeypatch, caplog):
    from arst.explore import browser
    monkeypatch.setattr(browser, "HALF_TOLERANCE", 0.0)
    model = browser.page_model("b", exported["baseline"])
    assert model.weights == "float32" and model.data == exported["baseline"].read_bytes()
    assert "more than 0: the page runs it in fp32" in caplog.text


def test_in_browser_page_errors_name_the_file(exported, fake_ort_web, files, tmp_path):
    from arst.explore.browser import page_model
    missing = tmp_path / "nowhere" / "onnxruntime-web-1.30.0.tgz"
    with pytest.raises(DataError, match=re.escape(f"not found at {missing}: `arst fetch-ort-web --out {missing}`")):
        ort_web_files(missing)
    with pytest.raises(DataError, match=rf"{fake_ort_web['path']}: sha256 {fake_ort_web['sha256']}, not onnxruntime-web"):
        ort_web_files(fake_ort_web["path"])
    partial = _tarball(tmp_path / "partial.tgz", {ORT_MEMBERS["script"]: b"var ort;"})
    with pytest.raises(DataError, match=f"no file {ORT_MEMBERS['glue']} in it"):
        ort_web_files(partial, hashlib.sha256(partial.read_bytes()).hexdigest())
    with pytest.raises(DataError, match="model not found"):
        page_model("x", tmp_path / "none.onnx")
    (tmp_path / "text.onnx").write_text("not onnx")
    with pytest.raises(DataError, match="text.onnx: not a readable ONNX file"):
        page_model("x", tmp_path / "text.onnx")
    import onnx
    proto = onnx.load(str(exported["corrected"]))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "bare.onnx"))
    with pytest.raises(DataError, match="bare.onnx: no implementation, style_layers, default_alpha, loss_network in its metadata"):
        page_model("x", tmp_path / "bare.onnx")
    # Nothing is written when the tarball is not there.
    with pytest.raises(DataError):
        write_explorer_in_browser([("x", exported["corrected"])], missing, [files["photo"]], tmp_path / "page")
    assert not (tmp_path / "page").exists()


def test_the_explorer_in_browser_verb_says_what_it_wrote_and_how_to_get_onnxruntime_web(
        exported, fake_ort_web, files, tmp_path, capsys, monkeypatch):
    out = tmp_path / "page"
    missing = tmp_path / "ort.tgz"
    assert main(["explorer-in-browser", str(exported["baseline"]), "--ort-web", str(missing), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"arst fetch-ort-web --out {missing}" in err and ORT_WEB["sha256"] in err
    monkeypatch.setitem(ORT_WEB, "sha256", fake_ort_web["sha256"])  # the stand-in tarball as the pinned one
    assert main(["explorer-in-browser", f"mine={exported['baseline']}", "--ort-web", str(fake_ort_web["path"]),
                 "--photos", str(files["photo"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"model-1\.js: mine \(baseline\), half-precision weights, within [\d.e-]+ grey levels", printed)
    assert "1 models, 1 photos (at most 256 px)" in printed and "a view loads at most" in printed


def _canvas_pixels(driver, canvas) -> np.ndarray:
    width, height, rgba = driver.execute_script(
        "const c = arguments[0]; return [c.width, c.height, "
        "Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)];", canvas)
    return np.array(rgba, dtype=int).reshape(height, width, 4)[..., :3]


def _shown(driver, **wanted):
    """The stylized canvas once the page is idle with its data-* attributes as `wanted`."""
    def ready(d):
        if d.execute_script("return document.body.dataset.state") != "idle":
            return None
        canvas = d.find_element("id", "stylized")
        return canvas if all(canvas.get_attribute(f"data-{k}") == v for k, v in wanted.items()) else None
    return _wait(driver, ready, f"the stylized picture with {wanted} (message: "
                 f"{driver.find_element('id', 'message').text!r})")


@pytest.mark.browser
@pytest.mark.ort_web
def test_in_browser_page_runs_the_model_offline_as_sliders_move_and_on_a_dropped_photo(
        exported, files, ort_web_tarball, chrome, tmp_path, screenshots):
    """Opened from disk (file://), the page runs each model in onnxruntime-web and shows what
    `arst stylize` saves at the slider's alpha, within one grey level: the corrected model in
    fp32 (half precision is over the tolerance for it), the baseline in half precision."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
    out = tmp_path / "page"
    write_explorer_in_browser([("small corrected", exported["corrected"]), ("small baseline", exported["baseline"])],
                              ort_web_tarball, [files["photo"]], out)
    chrome.get((out / "index.html").as_uri())
    before = _canvas_pixels(chrome, _shown(chrome, model="model-1", picture="photo", alpha="1.00,1.00,1.00"))
    facts = chrome.find_element("id", "facts").text
    assert "RANDOM VGG weights" in facts and "trained 7 steps" in facts and "weights in fp32" in facts
    assert [e.text for e in chrome.find_elements("css selector", ".slider label")] == ["relu2_2", "relu3_4", "relu4_4"]

    slider = chrome.find_element("id", "alpha-relu3_4")
    slider.send_keys(Keys.HOME)
    slider.send_keys(Keys.ARROW_RIGHT * 37)  # 0.37: any position, not only a sweep's grid
    after = _canvas_pixels(chrome, _shown(chrome, model="model-1", alpha="1.00,0.37,1.00"))
    expected = _stylized(files["corrected"], files["photo"], "1,0.37,1", tmp_path / "a.png")
    assert after.shape == expected.shape == (48, 64, 3)
    assert np.abs(after - expected).max() <= 1 and np.abs(after - before).mean() > 1.0
    assert re.search(r"this update: \d+ ms .* at 64x48, one thread", chrome.find_element("id", "status").text)

    # A broken photo: a message, and the page goes on. Then the reader's own photo.
    broken = tmp_path / "broken.png"
    broken.write_bytes(files["photo"].read_bytes()[:300])
    chrome.find_element("id", "upload").send_keys(str(broken))
    message = _wait(chrome, lambda d: d.find_element("id", "message").text, "a message")
    assert message == "broken.png: not a picture this browser can decode"
    own = _png(_picture(56, 40, 5), tmp_path / "own.png")
    chrome.find_element("id", "upload").send_keys(str(own))
    mine = _canvas_pixels(chrome, _shown(chrome, model="model-1", picture="own.png", alpha="1.00,0.37,1.00"))
    assert np.abs(mine - _stylized(files["corrected"], own, "1,0.37,1", tmp_path / "b.png")).max() <= 1
    assert chrome.find_element("id", "message").text == ""

    # The baseline, in half precision, on the same photo at its own alpha vector.
    Select(chrome.find_element("id", "model")).select_by_value("model-2")
    _shown(chrome, model="model-2", picture="own.png", alpha="1.00,1.00,1.00,1.00")
    assert "weights in half precision" in chrome.find_element("id", "facts").text
    chrome.find_element("id", "alpha-relu5_4").send_keys(Keys.HOME)
    baseline = _canvas_pixels(chrome, _shown(chrome, model="model-2", alpha="1.00,1.00,1.00,0.00"))
    expected = _stylized(files["baseline"], own, "1,1,1,0", tmp_path / "c.png")
    assert np.abs(baseline - expected).max() <= 1 and baseline.std() > 10
    chrome.find_element("id", "all0").click()
    _shown(chrome, model="model-2", alpha="0.00,0.00,0.00,0.00")
    chrome.save_screenshot(f"{screenshots}/in-browser.png")
