"""gan_models.families: the one family list, its helpers, and the exports built from it."""

from __future__ import annotations

import sys
import types

import pytest
from diffusers.pipelines.pipeline_utils import DiffusionPipeline

import gan_models
from gan_models import families
from gan_models.families import FAMILIES, Family, family, pipeline_classes
from gan_models.pipelines._facts import CardFacts
from tests.conftest import ROOT

# what `gan_models` exported before the family list built its exports: all must stay importable
FORMER_EXPORTS = """CheckpointFormatError CycleGANPipeline CycleGANPipelineOutput FaceGANPipeline FaceGANPipelineOutput
GanModelsError ImageTooLargeError InferenceOutOfMemoryError InvalidImageError PatchDiscriminator RRDBNet ResnetGenerator
SRVGGNetCompact StyleGAN2Discriminator StyleGAN2Generator SuperResolutionPipeline SuperResolutionPipelineOutput
TextProjectionDiscriminator TextToImageGANPipeline TextToImageGANPipelineOutput TextToImageGenerator
UNetDiscriminatorSN save_animation upscale_factor""".split()


def test_the_list_in_tab_order_with_space_folders():
    assert [(f.name, f.space) for f in FAMILIES] == [
        ("superres", "superres"),
        ("faces", "faces"),
        ("translation", "translate"),
        ("text2image", "text2image"),
        ("ganlab", "ganlab"),
    ]
    assert all((ROOT / "spaces" / f.space / "ui.py").is_file() for f in FAMILIES)
    assert family("translation").modules == ("gan_models.translation", "gan_models.pipelines.translation")


def test_an_unknown_family_is_an_error_listing_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown family 'translate'; choose one of superres, faces, translation"):
        family("translate")  # the Space folder's name is not the family's


def test_pipeline_classes_have_card_facts():
    classes = pipeline_classes()
    assert sorted(classes) == [
        "CycleGANPipeline",
        "FaceGANPipeline",
        "SuperResolutionPipeline",
        "TextToImageGANPipeline",
    ]
    for name, cls in classes.items():
        assert cls.__name__ == name and issubclass(cls, DiffusionPipeline) and getattr(gan_models, name) is cls
        assert isinstance(cls.card_facts, CardFacts) and cls.card_facts.usage.count(name) >= 1


def test_exports_keep_every_former_name_and_come_from_the_families():
    assert set(FORMER_EXPORTS) <= set(gan_models.__all__)
    for name in gan_models.__all__:
        assert getattr(gan_models, name) is not None
    assert gan_models.ToyGenerator.__module__ == "gan_models.toy2d"  # the GAN Lab family's module
    import gan_models.pipelines as pipelines

    assert "FaceGANPipeline" in pipelines.__all__ and "RRDBNet" not in pipelines.__all__


def test_a_module_without_all_or_a_clashing_name_fails_loudly(monkeypatch):
    bare, clash = types.ModuleType("gan_models.fake_bare"), types.ModuleType("gan_models.fake_clash")
    clash.__all__, clash.RRDBNet = ["RRDBNet"], object()  # another object under an exported name
    monkeypatch.setitem(sys.modules, bare.__name__, bare)
    monkeypatch.setitem(sys.modules, clash.__name__, clash)
    monkeypatch.setattr(families, "FAMILIES", (*FAMILIES, Family("bare", "x", (bare.__name__,))))
    with pytest.raises(ImportError, match="gan_models.fake_bare .* needs an explicit __all__"):
        families.exports()
    monkeypatch.setattr(families, "FAMILIES", (*FAMILIES, Family("clash", "x", (clash.__name__,))))
    with pytest.raises(ImportError, match="RRDBNet clashes"):
        families.exports()
