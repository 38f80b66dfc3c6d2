"""HTML reports, the comparison page and the zoo, on tiny real runs; and the report in a real browser."""

import base64
import html
import html.parser
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import TINY_TOY
from PIL import Image

from gankit import api
from gankit.cli import main
from gankit.config import build_config
from gankit.errors import ConfigError, DataError, RunDirectoryError
from gankit.report.compare import write_comparison
from gankit.report.figures import curve_figure, median_filter
from gankit.report.html import Page
from gankit.report.run_data import RunData, thin
from gankit.report.run_report import write_run_report
from gankit.zoo import run_zoo

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def train_tiny(out, preset, name, steps, *extra):
    config = build_config(preset, overrides=TINY_TOY + [f"train.steps={steps}", *extra])
    return api.train(config, out=out, name=name, progress=False, log=lambda message: None).path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny runs: WGAN-GP with evaluations, grids, contours and a GIF; a GAN on the same data; one on other data."""
    out = tmp_path_factory.mktemp("runs")
    wgan = train_tiny(out, "wgan-gp-8gaussians", "wgan", 24,
                      "eval.every=12", "eval.samples=400", "train.sample_every=4", "train.figure_every=8")
    gan = train_tiny(out, "gan-8gaussians", "gan", 10, "train.sample_every=5")
    swiss = train_tiny(out, "wgan-gp-swissroll", "swiss", 6)
    return {"wgan": wgan, "gan": gan, "swiss": swiss, "out": out}


class _Images(html.parser.HTMLParser):
    """Collects every resource a page would load: img sources, and any src or href at all."""

    def __init__(self):
        super().__init__()
        self.images, self.links = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        self.links += [attrs[key] for key in ("src", "href") if key in attrs]


def embedded_images(page_path):
    """The page's images, decoded from their data URIs; asserts the page loads nothing from outside."""
    text = page_path.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower() and "<link" not in text.lower() and "url(" not in text
    parser = _Images()
    parser.feed(text)
    assert all(link.startswith("data:image/") for link in parser.links), [link[:40] for link in parser.links]
    pictures = []
    for src in parser.images:
        header, _, payload = src.partition(",")
        assert header in ("data:image/png;base64", "data:image/gif;base64"), header
        picture = Image.open(io.BytesIO(base64.b64decode(payload, validate=True)))
        assert picture.format == ("PNG" if "png" in header else "GIF")
        pictures.append(picture)
    return pictures


def is_blank(picture):
    return float(np.asarray(picture.convert("RGB"), dtype=float).std()) == 0.0


# --------------------------------------------------------------------------- page builder


def test_page_escapes_text_and_embeds_only_images(tmp_path):
    grid = tmp_path / "grid.png"
    Image.fromarray(np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)).save(grid)
    page = Page("a <b> & c", subtitle="sub")
    page.add_text("<script>alert(1)</script>")  # goes to an untitled first section
    section = page.section("Tables")
    section.add_key_values({"lr": 1e-4, "betas": [0.5, 0.9], "missing": None})
    section.add_table(("run", "fd"), [("x", 1.23456), ("y", float("nan"))], caption="final")
    section.add_figure(grid, "a grid").add_gallery([(grid.read_bytes(), "one"), (grid, "two")])
    with pytest.raises(ValueError, match="cells for 2 columns"):
        section.add_table(("a", "b"), [(1, 2, 3)])
    with pytest.raises(ValueError, match="PNG, GIF or JPEG"):
        section.add_figure(b"<svg onload=alert(1)>")
    text = page.write(tmp_path / "page.html").read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text and "a &lt;b&gt; &amp; c" in text
    assert "0.0001" in text and "[0.5, 0.9]" in text and "n/a" in text and "1.235" in text
    assert len(embedded_images(tmp_path / "page.html")) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "page.html"]  # no temporary file left


# --------------------------------------------------------------------------- matplotlib backend


def _python(code, tmp_path):
    """Run ``code`` in a fresh interpreter without MPLBACKEND, as a user's script or notebook would."""
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_importing_gankit_leaves_the_matplotlib_backend_alone(tmp_path):
    code = ("import matplotlib; matplotlib.use('svg'); import gankit, gankit.report.plots, gankit.report.diagnose, "
            "gankit.api; print(matplotlib.get_backend())")
    assert _python(code, tmp_path) == "svg"


def test_figures_are_written_without_pyplot_or_a_backend_switch(tmp_path):
    code = """
import sys
from pathlib import Path

import matplotlib

matplotlib.use("svg")
import numpy as np
import torch

from gankit.report import diagnose, plots, toy_figures
from gankit.report.figures import curve_figure
from gankit.report.html import figure_png


class Critic(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))

    def forward(self, x, labels=None):
        return self.net(x).squeeze(1)


points = torch.randn(200, 2)
plots.save_points_plot(points, Path("points.png"), real=points * 0.5, title="points")
records = [{"step": s, "critic_loss": 1.0 / s, "eval/w1": 1.0 / s, "eval/critic_w": 2.0 / s} for s in range(1, 6)]
assert plots.save_curves(records, Path("curves.png"))
assert plots.save_wasserstein_comparison(records, Path("w1.png"))
plots.save_image_grid(torch.rand(4, 3, 8, 8) * 2 - 1, Path("grid.png"))
toy_figures.save_critic_contours(Critic(), points, points * 0.5, Path("contours.png"), title="contours")
layers = [{"step": s, "critic_layer_grad_norms": {"a": float(s), "b": 1.0 / s}} for s in (1, 2, 3)]
assert diagnose._layer_norm_figure(layers, Path("layers.png"), "layers")
diagnose._weight_histograms(Critic(), 0.01, Path("weights.png"))
diagnose._gradient_norm_figure({"real": np.linspace(0, 2, 50), "generated": np.ones(50)}, Path("norms.png"))
Path("curve.png").write_bytes(figure_png(curve_figure("critic_loss", [1, 2, 3], [3.0, 2.0, 1.0])))
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""
    assert _python(code, tmp_path) == "svg False"
    names = ["points", "curves", "w1", "grid", "contours", "layers", "weights", "norms", "curve"]
    for name in names:
        with Image.open(tmp_path / f"{name}.png") as picture:
            assert picture.format == "PNG" and not is_blank(picture), name


# --------------------------------------------------------------------------- run report


def test_run_report_is_self_contained_with_nonblank_figures(runs):
    path = write_run_report(runs["wgan"])
    assert path == runs["wgan"] / "report.html"
    text = path.read_text(encoding="utf-8")
    for heading in ("Training curves", "Evaluation", "Samples over training", "Final samples",
                    "Critic contours", "Training animation", "Config", "machine that wrote this report"):
        assert heading in text, heading
    for expected in ("wgan-gp-8gaussians", "8gaussians", "torch", "CPU cores", "mean steps/s", "eval/w1"):
        assert expected in text, expected
    pictures = embedded_images(path)
    # 6 training curves (losses, W estimate, penalty, grad norm, it/s), the eval metrics, the W1
    # comparison, 6 grids over training, the final grid, 3 contours and the GIF.
    assert len(pictures) >= 6 + 3 + 1 + 6 + 1 + 3 + 1
    assert sum(p.format == "GIF" for p in pictures) == 1
    assert not [i for i, picture in enumerate(pictures) if is_blank(picture)]


def test_report_skips_missing_pieces_and_runs_from_the_command_line(runs, tmp_path, capsys):
    bare = tmp_path / "bare"
    shutil.copytree(runs["gan"], bare)
    shutil.rmtree(bare / "samples")
    assert main(["report", str(bare), "--median-window", "5"]) == 0
    assert capsys.readouterr().out.strip() == str(bare / "report.html")
    text = (bare / "report.html").read_text(encoding="utf-8")
    assert "Training curves" in text
    assert "Samples over training" not in text and "Final samples" not in text and "Evaluation" not in text
    assert embedded_images(bare / "report.html")


def test_a_folder_that_is_not_a_run_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("data: {name: 8gaussians}\n")
    with pytest.raises(RunDirectoryError, match="metrics.jsonl"):
        write_run_report(tmp_path)
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error:") and "not a folder" in err and "\n" not in err
    assert not (tmp_path / "report.html").exists()


def test_timeline_is_thinned_evenly_keeping_both_ends():
    assert thin(list(range(5)), 12) == [0, 1, 2, 3, 4]
    picked = thin(list(range(100)), 12)
    assert len(picked) == 12 and picked[0] == 0 and picked[-1] == 99
    assert picked == sorted(set(picked))
    gaps = np.diff(picked)
    assert gaps.max() - gaps.min() <= 1


# --------------------------------------------------------------------------- median filter


def test_median_filter_removes_outliers_and_shrinks_at_the_ends():
    values = [1.0, 1.0, 9.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    # Window 3: each point with its two neighbours; the ends use the two points they have.
    assert median_filter(values, 3).tolist() == [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    # Window 5 around index 4: [9, 1, 1, 2, 2] -> 2; at index 0: [1, 1, 9] -> 1.
    assert median_filter(values, 5).tolist() == [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert median_filter(values, 4).tolist() == median_filter(values, 5).tolist()  # even windows widen by one
    assert median_filter(values, 1).tolist() == values and median_filter(values, 0).tolist() == values
    assert median_filter([], 25).size == 0

    rng = np.random.default_rng(0)
    trend = np.linspace(0.0, 1.0, 400)
    noisy = trend + rng.normal(0.0, 0.2, trend.size)
    noisy[::37] += 50.0  # rare huge outliers, which a running mean would smear out
    filtered = median_filter(noisy, 25)
    assert np.abs(filtered - trend).max() < 0.25 < np.abs(noisy - trend).max()


def test_wasserstein_curve_shows_raw_and_filtered_values():
    steps = list(range(0, 500, 5))
    values = [float(v) for v in np.random.default_rng(1).normal(size=len(steps))]
    lines = curve_figure("wasserstein", steps, values, median_window=9).axes[0].lines
    assert len(lines) == 2
    assert np.allclose(lines[0].get_ydata(), values)
    assert np.allclose(lines[1].get_ydata(), median_filter(values, 9))
    assert len(curve_figure("critic_loss", steps, values, median_window=9).axes[0].lines) == 1
    assert len(curve_figure("wasserstein", steps, values, median_window=0).axes[0].lines) == 1


# --------------------------------------------------------------------------- compare


def test_compare_refuses_runs_on_different_data_unless_forced(runs, tmp_path, capsys):
    pair = [runs["wgan"], runs["swiss"]]
    with pytest.raises(DataError) as caught:
        write_comparison(pair, tmp_path / "c.html")
    message = str(caught.value)
    assert "wgan: 8gaussians" in message and "swiss: swissroll" in message and "--force" in message
    assert not (tmp_path / "c.html").exists()

    assert main(["compare", *map(str, pair), "--out", str(tmp_path / "c.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert "different data" in err and "\n" not in err

    assert main(["compare", *map(str, pair), "--out", str(tmp_path / "c.html"), "--force"]) == 0
    assert "different data" in (tmp_path / "c.html").read_text(encoding="utf-8")
    assert not [p for p in embedded_images(tmp_path / "c.html") if is_blank(p)]


def test_compare_tables_final_numbers_and_overlays_the_curves(runs, tmp_path):
    page = write_comparison([runs["wgan"], runs["gan"]], tmp_path)
    assert page == tmp_path / "comparison.html"
    text = page.read_text(encoding="utf-8")
    for expected in ("wgan", "gan", "eval/w1 (last)", "generator_loss (last logged)", "mean steps/s",
                     "training time (s)", "Final samples"):
        assert expected in text, expected
    pictures = embedded_images(page)
    # Shared curves: the two losses and it/s at least, and both final grids.
    assert len(pictures) >= 3 + 2
    assert not [p for p in pictures if is_blank(p)]


# --------------------------------------------------------------------------- zoo


def test_zoo_trains_presets_on_the_same_data_and_compares_them(tmp_path, capsys):
    out = tmp_path / "zoo"
    page = run_zoo(["gan-8gaussians", "wgan-gp-8gaussians"], data="25gaussians", steps=3, out=out,
                   overrides=TINY_TOY, progress=True)
    lines = capsys.readouterr().out
    assert "[1/2] gan-25gaussians ..." in lines and "[2/2] wgan-gp-25gaussians ..." in lines
    assert page == out / "comparison.html"
    for name in ("gan-25gaussians", "wgan-gp-25gaussians"):
        config = (out / name / "config.yaml").read_text()
        assert "name: 25gaussians" in config and "steps: 3" in config
        assert name in page.read_text(encoding="utf-8")
    assert not [p for p in embedded_images(page) if is_blank(p)]

    # Run again into the same folder: refused before anything trains.
    with pytest.raises(RunDirectoryError, match="already exists"):
        run_zoo(["gan-8gaussians"], data="25gaussians", steps=3, out=out, overrides=TINY_TOY, progress=False)


def test_zoo_checks_every_preset_before_training_any(tmp_path, capsys):
    out = tmp_path / "zoo"
    with pytest.raises(ConfigError, match="unknown preset 'no-such-gan'"):
        run_zoo(["gan-8gaussians", "no-such-gan"], steps=3, out=out, overrides=TINY_TOY, progress=False)
    assert not out.exists()
    assert main(["zoo", "--data", "cifar10", "--out", str(out)]) == 2
    assert "no default zoo for data 'cifar10'" in capsys.readouterr().err
    assert main(["zoo", "--presets", "gan-8gaussians,gan-8gaussians", "--steps", "2", "--out", str(out)]) == 2
    assert "listed twice" in capsys.readouterr().err
    assert not out.exists()


# --------------------------------------------------------------------------- in a browser


def _chromium():
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium or Chrome binary found: install chromium to run the browser test")


# Injected into a copy of the page only, so that the report itself stays script-free:
# it records load errors and, once everything has loaded, each image's size and pixel spread.
_CATCH_ERRORS = """<script>window.__errors = [];
window.addEventListener("error", function (e) {
  window.__errors.push(String(e.message || (e.target && (e.target.src || e.target.href)) || "error").slice(0, 200));
}, true);</script>"""
_CHECK_IMAGES = """<script>window.addEventListener("load", function () {
  var found = [];
  document.querySelectorAll("img").forEach(function (img) {
    var w = img.naturalWidth, h = img.naturalHeight, std = -1;
    try {
      var canvas = document.createElement("canvas");
      canvas.width = Math.min(w, 400); canvas.height = Math.min(h, 400);
      var ctx = canvas.getContext("2d");
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      var d = ctx.getImageData(0, 0, canvas.width, canvas.height).data, n = 0, s = 0, s2 = 0;
      for (var i = 0; i < d.length; i += 4) {
        for (var k = 0; k < 3; k++) { s += d[i + k]; s2 += d[i + k] * d[i + k]; n++; }
      }
      std = Math.sqrt(Math.max(0, s2 / n - (s / n) * (s / n)));
    } catch (err) { window.__errors.push("image check: " + err); }
    found.push({width: w, height: h, shown: img.getBoundingClientRect().width, std: std});
  });
  var out = document.createElement("pre");
  out.id = "gankit-check";
  out.textContent = JSON.stringify({images: found, errors: window.__errors});
  document.body.appendChild(out);
});</script>"""


def _browse(chromium, page, tmp_path, *flags):
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", *flags, page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done, console


@pytest.mark.parametrize("which", ["report", "comparison"])
def test_pages_render_in_headless_chromium(runs, tmp_path, which):
    chromium = _chromium()
    if which == "report":
        page = write_run_report(runs["wgan"])
    else:
        page = write_comparison([runs["wgan"], runs["gan"]], tmp_path / "comparison.html")
    expected = len(embedded_images(page))

    shot = tmp_path / "shot.png"
    done, console = _browse(chromium, page, tmp_path, f"--screenshot={shot}", "--window-size=1200,3000")
    assert shot.is_file(), done.stderr[-2000:]
    assert not console, console  # the page has no scripts: any console message is a problem
    assert not is_blank(Image.open(shot))

    checked = tmp_path / f"{which}-checked.html"
    text = page.read_text(encoding="utf-8")
    text = text.replace("<head>", "<head>" + _CATCH_ERRORS, 1).replace("</body>", _CHECK_IMAGES + "</body>", 1)
    checked.write_text(text, encoding="utf-8")
    done, console = _browse(chromium, checked, tmp_path, "--virtual-time-budget=10000", "--dump-dom")
    assert not console, console
    dom = done.stdout
    start = dom.find('<pre id="gankit-check">')
    assert start >= 0, done.stderr[-2000:]
    result = json.loads(html.unescape(dom[start:dom.find("</pre>", start)].split(">", 1)[1]))
    assert result["errors"] == []
    assert len(result["images"]) == expected
    for index, image in enumerate(result["images"]):
        assert image["width"] > 0 and image["height"] > 0 and image["shown"] > 0, (index, image)
        assert image["std"] > 0, (index, image)


def test_zoo_with_seeds_reports_mean_and_std_over_each_presets_seeds(tmp_path, capsys):
    out = tmp_path / "zoo"
    overrides = [*TINY_TOY, "eval.every=2", "eval.samples=300", "train.seed=5"]  # 300: exact W1 stays cheap
    page = run_zoo(["gan-8gaussians"], steps=2, out=out, overrides=overrides, progress=True, seeds=2)
    # The seeds count up from the run's own seed.
    names = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert names == ["gan-8gaussians-seed5", "gan-8gaussians-seed6"]
    summary = json.loads((out / "seeds.json").read_text())
    assert set(summary) == {"gan-8gaussians"}
    for group in summary:
        w1 = [RunData.load(out / f"{group}-seed{s}").last("eval/w1") for s in (5, 6)]
        assert w1[0] != w1[1]  # the seed took effect
        cell = summary[group]["eval/w1"]
        assert cell["n"] == 2 and cell["values"] == w1
        assert cell["mean"] == pytest.approx(sum(w1) / 2)
        assert cell["std"] == pytest.approx(abs(w1[0] - w1[1]) / 2 ** 0.5)  # the sample std of two values
    text = page.read_text(encoding="utf-8")
    assert "Across seeds" in text and "± " in text
    assert "gan-8gaussians over 2 seeds: " in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # argparse's own refusal: one usage line, exit 2
        main(["zoo", "--presets", "gan-8gaussians", "--seeds", "0", "--out", str(tmp_path / "z")])
    assert refused.value.code == 2 and "--seeds: must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "z").exists()
