"""The report's own pieces: the alpha path of the animation, the GIF, HTML pages, benchmarks."""

import base64
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from arst.animate import alpha_path
from arst.errors import ConfigError, DataError
from arst.report import benchmark_table, gif_page, table_page


def test_alpha_path_visits_each_layer_alone_then_all_and_loops():
    path = alpha_path(2, 2)
    # stops 0, e1, 0, e2, 0, 1, 0; two frames per leg, each leg's end is the next one's start
    assert path == [(0, 0), (0.5, 0), (1, 0), (0.5, 0), (0, 0), (0, 0.5), (0, 1), (0, 0.5),
                    (0, 0), (0.5, 0.5), (1, 1), (0.5, 0.5)]
    three = alpha_path(3, 6)
    assert len(three) == (2 * 3 + 2) * 6 and len(set(three[:6])) == 6
    assert all(0 <= a <= 1 for frame in three for a in frame)
    with pytest.raises(ConfigError, match="at least 1"):
        alpha_path(3, 0)


def test_table_page_is_html_with_numbers_to_four_digits():
    text = table_page(pd.DataFrame({"implementation": ["a<b", "c"], "rho": [-0.123456, 1.0],
                                    "n": [3, 4]}), "sweep summary")
    assert text.startswith("<!DOCTYPE html>") and "<h3>sweep summary</h3>" in text
    assert re.findall(r"<td>([^<]*)</td>", text) == ["a&lt;b", "-0.1235", "3", "c", "1", "4"]


def test_gif_page_inlines_every_animation(tmp_path):
    gif = tmp_path / "baseline_mosaic_seed1.gif"
    Image.new("RGB", (4, 4), "red").save(gif)
    text = gif_page([("baseline_mosaic_seed1", gif)], "Animated alpha sweeps")
    data = re.search(r'src="data:image/gif;base64,([^"]+)"', text).group(1)
    assert base64.b64decode(data) == gif.read_bytes()
    assert "<figcaption>baseline_mosaic_seed1</figcaption>" in text
    with pytest.raises(DataError, match="animation not found: .*nope.gif"):
        gif_page([("x", tmp_path / "nope.gif")], "t")


def test_benchmark_table_from_snakemake_files(tmp_path):
    # The columns Snakemake writes (benchmark files of Snakemake 9).
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    (tmp_path / "a.tsv").write_text(header + "12.5\t0:00:12\t800.1\t900\t700\t750\t1\t2\t95.0\t11.9\n")
    (tmp_path / "b.tsv").write_text(header + "3.0\t0:00:03\t500.0\t600\t400\t450\t0\t0\t50.0\t1.5\n")
    table = benchmark_table([("corrected_mosaic_seed1", tmp_path / "a.tsv"), ("baseline", tmp_path / "b.tsv")])
    assert table.to_dict("list") == {"job": ["corrected_mosaic_seed1", "baseline"], "wall_s": [12.5, 3.0],
                                     "max_rss_mb": [800.1, 500.0], "mean_load_pct": [95.0, 50.0],
                                     "cpu_s": [11.9, 1.5]}
    (tmp_path / "c.tsv").write_text("x\ty\n1\t2\n")
    with pytest.raises(DataError, match="c.tsv: not a Snakemake benchmark file"):
        benchmark_table([("c", tmp_path / "c.tsv")])
    with pytest.raises(DataError, match="table not found: .*d.tsv"):
        benchmark_table([("d", tmp_path / "d.tsv")])


@pytest.mark.parametrize("side, width, shown", [(40, 192, 200), (96, 192, 192), (300, 192, 300), (512, 192, 384)],
                         ids=["enlarged-5x", "enlarged-2x", "as-is", "shrunk"])
def test_animation_frames_enlarge_small_outputs_by_whole_factors_and_shrink_large_ones(side, width, shown):
    import torch
    from PIL import ImageFont

    from arst.animate import _frame
    image = torch.rand(1, 3, side, side) * 255
    frame = _frame(image, ["relu2_2", "relu3_4"], [0.0, 1.0], width, ImageFont.load_default())
    assert frame.width == shown and frame.height > shown  # the image, then the bars
    if shown % side == 0:  # enlarged: each output pixel is a block of identical pixels
        factor = shown // side
        block = np.asarray(frame.crop((0, 0, factor, factor)))
        assert (block == block[0, 0]).all()
