"""The hub and the Spaces read the one family list: tabs in its order, each Space's declaration honoured."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from the test server

import gradio as gr
import pytest

from gan_models.families import FAMILIES


@pytest.fixture(scope="module")
def hub() -> gr.Blocks:
    from app import build_hub

    return build_hub()


def public_api_names(blocks: gr.Blocks) -> list[str]:
    return [fn.api_name for fn in blocks.fns.values() if fn.api_visibility == "public"]


def test_the_tabs_follow_the_family_list(hub):
    from app import load_family_ui

    (tabs,) = [child for child in hub.children if isinstance(child, gr.Tabs)]
    labels = [load_family_ui(family.space).TAB_LABEL for family in FAMILIES]
    assert [tab.label for tab in tabs.children] == labels
    assert labels == ["Super-resolution", "Faces", "Translation", "Text to image", "GAN Lab"]


def test_each_space_declares_the_endpoints_its_blocks_have(hub):
    from app import load_family_ui

    declared = []
    for family in FAMILIES:
        ui = load_family_ui(family.space)
        assert public_api_names(ui.build()) == list(ui.ENDPOINTS), family.space  # the Space alone
        assert isinstance(ui.TAB_LABEL, str) and isinstance(ui.BUNDLED_CHECKPOINTS, tuple)
        declared += ui.ENDPOINTS
    assert public_api_names(hub) == declared  # the hub: every Space's endpoints, by the same names, in order


def test_an_unknown_space_is_an_error_listing_the_valid_ones():
    from app import load_family_ui

    with pytest.raises(
        ValueError, match="Unknown family Space 'translation'; choose one of superres, faces, translate"
    ):
        load_family_ui("translation")  # the family's name, not its Space folder


def test_the_old_shared_lists_are_gone():
    import app

    assert not hasattr(app, "FAMILIES")
