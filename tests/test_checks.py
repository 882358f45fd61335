"""gan_models.checks: one range per parameter, read by the pipelines and the Spaces alike."""

from __future__ import annotations

import pytest
import torch

from gan_models import checks
from gan_models.checks import (
    NUM_FRAMES,
    NUM_IMAGES,
    SEED,
    TRUNCATION,
    Range,
    check_int,
    check_number,
    check_outscale,
    check_seed_or_generator,
    clamped_count,
    flag,
    number_in_range,
    seed_or_random,
    whole_number,
)
from gan_models.errors import GanModelsError


@pytest.fixture(scope="module")
def space_uis():
    from app import load_family_ui

    return {name: load_family_ui(name) for name in ("superres", "faces", "text2image")}


def test_spaces_read_the_library_ranges(space_uis):
    faces, text2image, superres = space_uis["faces"], space_uis["text2image"], space_uis["superres"]
    # the very same objects at the door of both Spaces and in the pipelines' checks
    assert faces.TRUNCATION is text2image.TRUNCATION is TRUNCATION
    assert faces.MAX_SEED == text2image.MAX_SEED == SEED.high
    # per-click caps narrow the library's range, never widen it or change its other end
    for cap, library in ((faces.IMAGES, NUM_IMAGES), (faces.FRAMES, NUM_FRAMES), (text2image.IMAGES, NUM_IMAGES)):
        assert cap.name == library.name and cap.low == library.low and cap.high <= library.high
    assert (superres.OUTSCALE.low, superres.OUTSCALE.high) == (1.0, 4.0)
    assert superres.OUTSCALE.high in checks.outscale_range(4)


def test_pipeline_and_door_agree_on_the_truncation_ends():
    for value in (TRUNCATION.low, TRUNCATION.high):
        assert checks.check_truncation(value) == number_in_range(value, TRUNCATION, 1.0) == value
    for value in (TRUNCATION.low - 0.1, TRUNCATION.high + 0.1):
        with pytest.raises(GanModelsError, match="truncation must be between -1.0 and 2.0"):
            checks.check_truncation(value)
        with pytest.raises(ValueError, match=r"truncation must be a number from -1 to 2 \(0.5 to 1 is usual\)"):
            number_in_range(value, TRUNCATION, 1.0)


def test_capped_ranges_cannot_widen():
    assert NUM_IMAGES.capped(16) == Range("num_images", 1, 16)
    with pytest.raises(ValueError, match="outside the library's range"):
        NUM_IMAGES.capped(65)
    assert 10**9 in checks.TILE_SIZE and -1 not in checks.TILE_SIZE and "3" not in NUM_IMAGES


def test_library_checks_are_strict_about_types():
    assert check_int(3, NUM_IMAGES) == 3
    for bad in (True, 2.0, "3"):
        with pytest.raises(GanModelsError, match="num_images must be an integer between 1 and 64"):
            check_int(bad, NUM_IMAGES)
    with pytest.raises(GanModelsError, match="tile_size must be >= 0 \\(0 or None = no tiling\\), got -1"):
        check_int(-1, checks.TILE_SIZE)
    for bad in (float("nan"), float("inf"), False, "0.5"):
        with pytest.raises(GanModelsError, match="finite number"):
            check_number(bad, TRUNCATION)
    assert check_outscale(None, 4) is None and check_outscale(8, 4) == 8.0
    with pytest.raises(GanModelsError, match="x4 model"):
        check_outscale(8.5, 4)


def test_door_checks_are_lenient_about_form():
    assert whole_number(" 12 ", "seed") == 12 and whole_number(4.0, "n") == 4
    assert seed_or_random("") in SEED and seed_or_random("5") == 5
    with pytest.raises(KeyError, match="seed must be a whole number from 0 to 4294967295"):
        seed_or_random(-1, error=KeyError)  # the caller's error type (gr.Error in a Space)
    notes: list[str] = []
    assert clamped_count("0", NUM_FRAMES.capped(96), 16, notes) == 2
    assert notes == ["num_frames 0 is outside 2 to 96: used 2."]
    assert (flag("True", "x"), flag("", "x"), flag(None, "x")) == (True, False, False)
    with pytest.raises(ValueError, match="x must be true or false"):
        flag("yes", "x")


def test_seed_or_generator():
    seeds, gens = check_seed_or_generator(None, None, 2)
    assert seeds == [0, 1] and torch.equal(
        torch.randn(3, generator=gens[1]), torch.randn(3, generator=torch.Generator().manual_seed(1))
    )
    shared = torch.Generator()
    assert check_seed_or_generator(None, shared, 3) == ([None] * 3, [shared] * 3)
    with pytest.raises(GanModelsError, match="not both"):
        check_seed_or_generator(0, shared, 1)
    with pytest.raises(GanModelsError, match="largest seed"):
        check_seed_or_generator(SEED.high, None, 2)
