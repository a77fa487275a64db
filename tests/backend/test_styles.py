"""Style training on the tiny model set, for real: peft LoRA, the engine applying it, the registry on disk."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import DataDirFactory
from PIL import Image
from safetensors.torch import load_file
from shots import write_shot

from underpaint.cli import main
from underpaint.engines.animatediff.engine import AnimateDiffEngine
from underpaint.engines.animatediff.tiny import ensure_tiny_models
from underpaint.engines.base import Cancelled, EngineError, PaintRequest, PromptSpan, StyleRef
from underpaint.engines.registry import get_model_set
from underpaint.errors import InputError
from underpaint.styles import list_styles, read_card, resolve_style
from underpaint.styles.dataset import folder_files
from underpaint.styles.registry import STAGING_PREFIX, styles_root
from underpaint.styles.train import TrainConfig, train_style

RESOLUTION = 64
# Seed, learning rate and batch size under which 48 steps lower the tiny UNet's loss by a wide margin
# (about 12% between the first and the last 12 steps); the default 1e-4 barely moves random tiny weights.
FAST = dict(model="tiny", resolution=RESOLUTION, rank=4, learning_rate=1e-2, batch_size=4, seed=1, validation_steps=2)
STEPS, WINDOW = 48, 12


def write_concept_art(folder: Path, count: int = 6, size: tuple[int, int] = (96, 80)) -> Path:
    """A small 'style': warm diagonal stripes, each image shifted; one caption, one JPEG among PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    for i in range(count):
        stripes = ((x + y + 3 * i) // 6 % 2).astype(np.float32)
        rgb = np.stack([200 * stripes + 40, 80 * stripes + 30, np.full_like(stripes, 30)], -1).astype(np.uint8)
        Image.fromarray(rgb).save(folder / (f"art{i}.jpg" if i == 0 else f"art{i}.png"))
    (folder / "art1.txt").write_text("a striped tower at dusk\n")
    return folder


@pytest.fixture(scope="module")
def data_dir(data_dirs: DataDirFactory) -> Path:
    directory = data_dirs("data")
    ensure_tiny_models(directory)
    return directory


@pytest.fixture(scope="module")
def art(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_concept_art(tmp_path_factory.mktemp("art"))


@pytest.fixture(scope="module")
def trained(data_dir: Path, art: Path) -> Path:
    """One style trained for the module's tests: 'stripes', trigger 'strp'."""
    config = TrainConfig(name="stripes", steps=STEPS, trigger="strp", validation_images=1, **FAST)
    train_style(folder_files(art), config, data_dir)
    return data_dir


@pytest.fixture(scope="module")
def engine(trained: Path) -> AnimateDiffEngine:
    return AnimateDiffEngine(get_model_set("tiny", trained), data_dir=trained, device="cpu")


def no_staging_left(data_dir: Path) -> bool:
    return not list(styles_root(data_dir).glob(f"{STAGING_PREFIX}*"))


def test_training_lowers_the_loss_and_writes_lora_and_card(trained: Path) -> None:
    card = read_card(trained, "stripes")
    losses = card.loss_curve
    assert len(losses) == STEPS
    first, last = np.mean(losses[:WINDOW]), np.mean(losses[-WINDOW:])
    assert last < 0.95 * first, f"loss did not fall: first {WINDOW} steps {first:.4f}, last {WINDOW} {last:.4f}"

    folder = styles_root(trained) / "stripes"
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "lora.safetensors", "validation"]
    weights = load_file(folder / "lora.safetensors")
    # diffusers' LoRA layout, as its training scripts save it: unet.<module>.lora.down/up.weight
    assert weights and all(k.startswith("unet.") and (".lora.down." in k or ".lora.up." in k) for k in weights)
    assert any(".attn2.to_k.lora.down" in k for k in weights)  # cross-attention: where the text meets the image
    assert max(w.abs().max().item() for k, w in weights.items() if ".lora.up." in k) > 0  # up starts at 0: it trained

    on_disk = json.loads((folder / "card.json").read_text())
    assert on_disk["base_model"] == "tiny" and on_disk["steps"] == STEPS and on_disk["rank"] == 4
    assert on_disk["trigger"] == "strp" and len(on_disk["images_hash"]) == 64
    captions = {image.file: image.caption for image in card.images}
    assert captions["art1.png"] == "strp, a striped tower at dusk" and captions["art2.png"] == "strp"
    held = [image for image in card.images if image.held_out]
    assert len(held) == 1 and card.validation_loss_before is not None and card.validation_loss_after is not None
    for render in card.validation:
        for path in (render.styled, render.unstyled, render.reference):
            assert path and (folder / path).is_file()
    assert [c.name for c in list_styles(trained)] == ["stripes"]
    assert no_staging_left(trained)


def paint(engine: AnimateDiffEngine, styles: list[StyleRef]) -> np.ndarray:
    depth = np.random.default_rng(0).integers(0, 256, (2, RESOLUTION, RESOLUTION, 3), dtype=np.uint8)
    request = PaintRequest(
        prompts=[PromptSpan(0, "strp, a tower")], width=RESOLUTION, height=RESOLUTION, num_frames=2, steps=2,
        seed=3, controls={"depth": depth}, styles=styles,
    )
    return np.concatenate([chunk.frames for chunk in engine.paint(request, lambda done, total: None)])


def test_the_style_changes_the_painting_and_strength_zero_does_not(trained: Path, engine: AnimateDiffEngine) -> None:
    plain = paint(engine, [])
    styled = paint(engine, [resolve_style("stripes", 1.0, trained)])
    off = paint(engine, [resolve_style("stripes", 0.0, trained)])
    assert np.abs(styled.astype(int) - plain).mean() > 1.0
    np.testing.assert_array_equal(off, plain)
    np.testing.assert_array_equal(paint(engine, []), plain)  # the LoRA was taken out again after the job


def test_a_style_is_refused_on_another_model_set(trained: Path, engine: AnimateDiffEngine) -> None:
    other_set = dataclasses.replace(get_model_set("tiny", trained), name="tiny-other")
    other = AnimateDiffEngine(other_set, data_dir=trained, device="cpu", components=engine.components)
    with pytest.raises(EngineError, match="trained on model set 'tiny'.*'tiny-other'"):
        paint(other, [resolve_style("stripes", 0.8, trained)])


def test_stylize_uses_a_style_by_name(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ref = resolve_style("stripes", 0.5, trained)
    assert ref.base_model == "tiny" and ref.weight == 0.5 and Path(ref.path).is_file()
    with pytest.raises(InputError, match="outside"):
        resolve_style("stripes", 7.0, trained)
    with pytest.raises(InputError, match="no style named 'nope'; trained styles: stripes") as caught:
        resolve_style("nope", 1.0, trained)
    assert caught.value.status == 400

    shot = write_shot(tmp_path / "shot", frames=2, width=64, height=48)
    command = ["stylize", str(shot), "--prompt", "strp, a tower", "--model", "tiny", "--steps", "2",
               "--width", "64", "--height", "48", "--data-dir", str(trained)]
    assert main([*command, "--style", "stripes:0.8", "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0001.png", "0002.png"]
    assert main([*command, "--style", "nope"]) == 2
    assert "no style named 'nope'" in capsys.readouterr().err


def test_cancel_mid_training_leaves_no_style(data_dir: Path, art: Path) -> None:
    heard: list[str] = []

    def check() -> None:
        if heard and heard[-1].startswith("training: step"):
            raise Cancelled()

    before = [c.name for c in list_styles(data_dir)]
    with pytest.raises(Cancelled):
        train_style(
            folder_files(art), TrainConfig(name="halfway", steps=2000, **FAST), data_dir,
            on_progress=lambda progress: heard.append(progress.message), check=check,
        )
    assert "step 2000/2000" not in heard[-1]
    assert not (styles_root(data_dir) / "halfway").exists()
    assert [c.name for c in list_styles(data_dir)] == before
    assert no_staging_left(data_dir)


@pytest.mark.parametrize(
    ("setup", "overrides", "code", "message"),
    [
        ("empty", {}, "no_images", "has no images"),
        ("notes", {}, "not_an_image", "notes.pdf in .* is not an image"),
        ("small", {}, "image_too_small", r"tiny.png is smaller than the training resolution \(tiny.png is 40x30\)"),
        ("orphan", {}, "caption_without_image", "caption lost.txt has no image"),
        ("corrupt", {}, "corrupt_file", "broken.png is not a readable PNG image"),
        ("ok", {"name": "stripes"}, "style_exists", "a style named 'stripes' already exists"),
        ("ok", {"name": "../escape"}, "invalid_style_name", "is not allowed"),
        ("ok", {"model": "tiny-vace"}, "model_not_trainable", "cannot be trained on"),
        ("ok", {"model": "nonesuch"}, "unknown_model", "unknown model set 'nonesuch'"),
        ("ok", {"resolution": 60}, "invalid_params", "multiple of 8"),
        ("ok", {"steps": 0}, "invalid_params", "steps must be an integer from 1"),
    ],
)
def test_bad_input_is_a_clear_error(
    trained: Path, tmp_path: Path, setup: str, overrides: dict, code: str, message: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    if setup != "empty":
        write_concept_art(folder, count=2)
    if setup == "notes":
        (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    if setup == "small":
        Image.new("RGB", (40, 30)).save(folder / "tiny.png")
    if setup == "orphan":
        (folder / "lost.txt").write_text("no image")
    if setup == "corrupt":
        (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    config = TrainConfig(**{**FAST, "name": "fresh", "steps": 2, **overrides})
    with pytest.raises(InputError, match=message) as caught:
        train_style(folder_files(folder), config, trained)
    assert caught.value.code == code
    assert "fresh" not in [c.name for c in list_styles(trained)] and no_staging_left(trained)


def test_force_replaces_a_style_through_the_cli(trained: Path, art: Path, capsys: pytest.CaptureFixture) -> None:
    common = ["styles", "train", str(art), "--name", "redo", "--model", "tiny", "--steps", "2", "--rank", "2",
              "--resolution", str(RESOLUTION), "--validation-steps", "1", "--data-dir", str(trained)]
    assert main(common) == 0
    first = read_card(trained, "redo")
    assert main(common) == 2
    err = capsys.readouterr().err
    assert "a style named 'redo' already exists" in err and "pass --force" in err and '"force"' not in err
    assert main([*common, "--force", "--rank", "4"]) == 0
    second = read_card(trained, "redo")
    assert (first.rank, second.rank) == (2, 4) and second.created > first.created

    assert main(["styles", "list", "--data-dir", str(trained)]) == 0
    listing = capsys.readouterr().out
    assert "redo" in listing and "stripes" in listing and "strp" in listing
    assert main(["styles", "list", "--json", "--data-dir", str(trained)]) == 0
    names = [s["name"] for s in json.loads(capsys.readouterr().out)["styles"]]
    assert names == ["redo", "stripes"]
    assert main(["styles", "train", str(art / "missing"), "--name", "x", "--model", "tiny",
                 "--data-dir", str(trained)]) == 2
    assert f"{art / 'missing'} does not exist" in capsys.readouterr().err


def test_delete_removes_a_style_whole_through_the_cli(trained: Path, art: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["styles", "train", str(art), "--name", "doomed", "--model", "tiny", "--steps", "1", "--rank", "2",
                 "--resolution", str(RESOLUTION), "--validation-steps", "1", "--data-dir", str(trained)]) == 0
    capsys.readouterr()
    assert main(["styles", "delete", "doomed", "--data-dir", str(trained)]) == 0
    assert "deleted style 'doomed'" in capsys.readouterr().out
    assert "doomed" not in [c.name for c in list_styles(trained)]
    assert not [p for p in (trained / "styles").iterdir() if "doomed" in p.name], "no hidden leftovers"
    assert main(["styles", "delete", "doomed", "--data-dir", str(trained)]) == 2
    assert "no style named 'doomed'" in capsys.readouterr().err
