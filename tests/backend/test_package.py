"""Shot packages: reading measurements back exactly, and refusing every kind of broken package."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from broken_shots import CASES, BrokenCase, broken_package
from shots import BOX_DEPTH, OBJECTS, WALL_DEPTH, scene_frame, store_in_blobs, write_shot

from underpaint.blobs import BlobStore
from underpaint.errors import InputError
from underpaint.images import read_png
from underpaint.shot.package import assemble_package, load_package, validate_package


def test_measurements_read_back_as_written(tmp_path) -> None:
    package = load_package(write_shot(tmp_path / "shot", frames=3, width=20, height=10, color=True, pose=True))
    validate_package(package)
    assert package.frame_numbers == [1, 2, 3] and package.size == (20, 10)
    expected = scene_frame(1, 3, 20, 10)
    passes = package.read_passes(2)
    assert np.array_equal(passes.depth, expected["depth"])
    assert np.allclose(passes.normal, expected["normal"], atol=1e-3)  # stored as half floats
    assert np.array_equal(passes.object_index, expected["object_index"].astype(np.int32))
    assert {WALL_DEPTH, BOX_DEPTH} <= set(np.unique(passes.depth).tolist())
    assert set(np.unique(passes.object_index)) == {0, *OBJECTS.values()}
    assert package.read_color(1).shape == (10, 20, 3)
    assert len(package.read_pose().frames) == 3


def test_assembled_from_blobs_equals_the_directory(tmp_path) -> None:
    directory = write_shot(tmp_path / "shot", frames=2, width=16, height=8)
    blobs = BlobStore(tmp_path / "blobs")
    sha = store_in_blobs(directory, blobs)
    package = assemble_package(sha, blobs)
    assert package.sha256 == sha == hashlib.sha256((directory / "shot.json").read_bytes()).hexdigest()
    assert package.shot == load_package(directory).shot
    assert np.array_equal(package.read_depth(2), load_package(directory).read_depth(2))


def test_a_listed_file_that_is_absent_is_named(tmp_path) -> None:
    directory = write_shot(tmp_path / "shot", frames=2, width=16, height=8)
    (directory / "passes" / "0002.exr").unlink()
    with pytest.raises(InputError, match="passes/0002.exr") as caught:
        load_package(directory)
    assert caught.value.code == "missing_files"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_package_directory_is_refused_with_its_code(case: BrokenCase, tmp_path) -> None:
    directory = broken_package(case, tmp_path)
    with pytest.raises(InputError) as caught:
        validate_package(load_package(directory))
    assert caught.value.code == case.code, caught.value.message
    assert 400 <= caught.value.status < 500


def test_blob_store_checks_hashes_and_sizes(tmp_path) -> None:
    blobs = BlobStore(tmp_path / "blobs", max_bytes=100)
    info = blobs.put(b"hello")
    assert info.sha256 == hashlib.sha256(b"hello").hexdigest() and blobs.has(info.sha256)
    with pytest.raises(InputError) as mismatch:
        blobs.put(b"hello!", expected_sha256=info.sha256)
    assert mismatch.value.code == "hash_mismatch"
    with pytest.raises(InputError) as large:
        blobs.put(b"x" * 101)
    assert (large.value.code, large.value.status) == ("too_large", 413)
    assert blobs.missing([info.sha256, "a" * 64, "a" * 64]) == ["a" * 64]
    assert not list((tmp_path / "blobs").glob(".upload-*")), "failed uploads leave no temporary files"
    with pytest.raises(InputError):
        blobs.path("../../etc/passwd")


def test_png_reader_refuses_bombs_before_decoding(tmp_path) -> None:
    from broken_shots import png_bomb

    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb(50000, 50000))
    with pytest.raises(InputError) as caught:
        read_png(path)
    assert (caught.value.code, caught.value.status) == ("image_too_large", 413)
