"""SceneCompressionModel: shapes, exactness/determinism matrix, rate estimate, corruption."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spkc.errors import InputError, SceneCorruptError
from spkc.models.exact import (
    ExactConv2d,
    ExactLeakyReLU,
    ExactSequential,
    float_surrogate,
    to_int,
)
from spkc.models.layers import count_parameters
from spkc.models.losses import bits_per_pixel, rd_loss, rd_terms
from spkc.models.scene_codec import SceneCompressionModel
from spkc.models.surgery import grow_model, grow_synthesis, widen_latents, widen_synthesis
from spkc.models.weights import weights_config


def _scene(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth-ish test scene (H, W) float32 in [0, 1]: gradients, a disc and mild texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = 0.3 + 0.3 * xx + 0.2 * np.sin(6 * yy + seed)
    img += 0.3 * (((yy - 0.3) ** 2 + (xx - 0.4) ** 2) < 0.04)
    img += 0.03 * rng.standard_normal((h, w))
    return np.clip(img, 0, 1).astype(np.float32)


def _spikes(x: torch.Tensor, L: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(x.shape[0], L, *x.shape[-2:], generator=g) < 0.5 * x).float()


@pytest.fixture(scope="module")
def tiny() -> SceneCompressionModel:
    torch.manual_seed(0)
    return SceneCompressionModel("tiny", "bisoam").eval()


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(np.stack([_scene(50, 70, s) for s in range(4)]))[:, None]
    return x, _spikes(x, 4, 1), _spikes(x, 4, 2)


def test_forward_shapes_and_loss() -> None:
    torch.manual_seed(0)
    m = SceneCompressionModel("tiny", "bisoam")
    x = torch.rand(2, 1, 40, 56)
    out = m(x, _spikes(x, 3, 0), _spikes(x, 3, 1))
    assert out["x_hat"].shape == (2, 1, 40, 56)
    assert out["bpp"].shape == (2,)
    assert out["likelihoods"]["y"].shape == (2, m.cfg["m"], 4, 4)  # padded to 64x64, /16
    assert out["likelihoods"]["z"].shape == (2, m.cfg["nz"], 2, 2)
    loss, logs = rd_loss(out, x, 0.025)
    loss.backward()
    assert set(logs) == {"bpp", "mse", "psnr"} and np.isfinite(logs["psnr"])
    same, bpp, mse = rd_terms(out, x, 0.025)
    assert torch.equal(same, loss) and float(bpp.detach()) == logs["bpp"]
    assert float(mse.detach()) == logs["mse"]
    assert torch.equal(bits_per_pixel(out["likelihoods"], 40 * 56), out["bpp"])
    weights = torch.ones(m.cfg["m"])
    weights[m.cfg["m"] // 2:] = 0  # channels whose rate does not count (a growth ramp)
    assert (bits_per_pixel(out["likelihoods"], 40 * 56, weights) < out["bpp"]).all()
    assert all(p.grad is not None for p in m.attention_parameters())
    assert m.g_a.attn.cell.weight.grad.abs().sum() > 0
    assert SceneCompressionModel("tiny", None).attention_parameters() == []
    with pytest.raises(InputError):
        m(x)  # bisoam without spikes
    with pytest.raises(InputError):
        SceneCompressionModel("nope")


def test_configs_sizes() -> None:
    assert 40e6 < count_parameters(SceneCompressionModel("paper", "bisoam")) < 55e6
    assert count_parameters(SceneCompressionModel("compact", "bisoam")) < 1.0e6


def test_exact_conv_matches_fake_quant_and_bounds() -> None:
    torch.manual_seed(0)
    net = ExactSequential(ExactConv2d(3, 8, 3), ExactLeakyReLU(), ExactConv2d(8, 4, 1))
    x = torch.randn(2, 3, 9, 11)
    xq = to_int(x) / 2**8
    real = net(xq.float())
    ints = net.forward_int(to_int(xq))
    assert torch.all(ints == torch.floor(ints))
    # float32 training path and integer path agree up to rare rounding-boundary flips
    assert (real.double() * 2**8 - ints).abs().max() <= 2
    # the float surrogate (latent refinement) skips the activation grid: within a few steps
    with float_surrogate():
        fast = net(xq.float())
    assert not torch.equal(fast, real) and (fast - real).abs().max() <= 4 / 2**8
    assert torch.equal(net(xq.float()), real)  # the context restores the grid
    with pytest.raises(AssertionError):
        ExactConv2d(100000, 1, 3)


def test_round_trip_and_rate_estimate(tiny: SceneCompressionModel) -> None:
    x = torch.from_numpy(_scene(256, 384, 7))[None, None]
    sb, sa = _spikes(x, 4, 3), _spikes(x, 4, 4)
    with torch.no_grad():
        est = float(tiny(x, sb, sa)["bpp"][0]) * 256 * 384
    payloads = tiny.compress(x, sb, sa)
    actual = 8 * (len(payloads[0]["z"]) + len(payloads[0]["y"]))
    assert abs(actual - est) / est < 0.02, (actual, est)
    x_hat = tiny.decompress(payloads)
    assert x_hat.shape == x.shape and x_hat.dtype == torch.float32
    assert torch.equal(x_hat, torch.round(x_hat * 65535) / 65535)


def test_determinism_matrix(tiny: SceneCompressionModel, batch) -> None:
    """Encode once; decode with threads 1/2, batch 1/4, channels_last: identical output.

    Symbols are identical too: decompress checks the CRC-32C of the decoded symbols against
    the encoder's and raises otherwise.
    """
    x, sb, sa = batch
    payloads = tiny.compress(x, sb, sa)
    threads = torch.get_num_threads()
    results = []
    try:
        for nt in (1, 2):
            torch.set_num_threads(nt)
            results.append(tiny.decompress(payloads))
            results.append(torch.cat([tiny.decompress([p]) for p in payloads]))
            results.append(tiny.decompress(payloads, channels_last=True))
            results.append(tiny.decompress(payloads[::-1]).flip(0))
    finally:
        torch.set_num_threads(threads)
    for r in results[1:]:
        assert torch.equal(r, results[0])
    # encoding a scene alone or in a batch gives the same bytes
    alone = tiny.compress(x[2:3], sb[2:3], sa[2:3])[0]
    assert alone == payloads[2]


@pytest.mark.gpu
def test_determinism_cuda(tiny: SceneCompressionModel, batch) -> None:
    x, sb, sa = batch
    payloads = tiny.compress(x, sb, sa)
    ref = tiny.decompress(payloads)
    gpu = tiny.to("cuda")
    try:
        assert torch.equal(gpu.decompress(payloads, device="cuda").cpu(), ref)
        assert gpu.decompress(gpu.compress(x.cuda(), sb.cuda(), sa.cuda())) is not None
    finally:
        tiny.to("cpu")


def test_corrupted_payloads(tiny: SceneCompressionModel, batch) -> None:
    x, sb, sa = batch
    payloads = tiny.compress(x[:2], sb[:2], sa[:2])
    y = bytearray(payloads[1]["y"])
    y[len(y) // 2] ^= 0x5A
    bad = [payloads[0], {**payloads[1], "y": bytes(y)}]
    with pytest.raises(SceneCorruptError) as ei:
        tiny.decompress(bad)
    assert ei.value.scene == 1
    for damaged in ({**payloads[0], "y": payloads[0]["y"][:-3]},
                    {**payloads[0], "meta": b"xx"},
                    {**payloads[0], "z": payloads[1]["z"][:4]},
                    {"z": payloads[0]["z"], "y": payloads[1]["y"], "meta": payloads[0]["meta"]}):
        with pytest.raises(SceneCorruptError):
            tiny.decompress([damaged])


def test_save_load_roundtrip(tiny: SceneCompressionModel, batch, tmp_path) -> None:
    x, sb, sa = batch
    path = tmp_path / "w.safetensors"
    tiny.save_weights(path)
    other = SceneCompressionModel("tiny", "bisoam")
    other.load_weights(path)
    # integer decoder weights and z tables survive exactly: same decode of the same bytes
    payloads = tiny.compress(x, sb, sa)
    assert torch.equal(other.decompress(payloads), tiny.decompress(payloads))
    with pytest.raises(InputError):
        SceneCompressionModel("compact", "bisoam").load_weights(path)


def _assert_same_coding_then_train(big, small, batch) -> None:
    """``big`` (grown from ``small``) makes the same streams, the same exact decode and the
    same float output; then one training backward pass (gradients for the caller to check)."""
    x, sb, sa = batch
    payloads = small.compress(x, sb, sa)
    assert big.compress(x, sb, sa) == payloads
    assert torch.equal(big.decompress(payloads), small.decompress(payloads))
    assert torch.equal(big.eval()(x, sb, sa)["x_hat"], small(x, sb, sa)["x_hat"])
    big.train()
    rd_terms(big(x, sb, sa), x, 0.025)[0].backward()


def test_grow_synthesis_keeps_the_function_and_the_bytes(tiny, batch, tmp_path) -> None:
    x, sb, sa = batch
    grown = grow_synthesis(tiny, 3).eval()
    assert grown.cfg == {**tiny.cfg, "gs_depth": 3}
    assert count_parameters(grown) > count_parameters(tiny)
    # the added blocks start as the identity; and they learn: the zeroed convs get gradients
    _assert_same_coding_then_train(grown, tiny, batch)
    assert grown.g_s.layers[3].body.layers[3].weight.grad.abs().sum() > 0
    # saved and reloaded under its own config
    path = tmp_path / "grown.safetensors"
    grown.save_weights(path)
    assert weights_config(path) == grown.cfg
    again = SceneCompressionModel(grown.cfg, "bisoam")
    again.load_weights(path)
    with pytest.raises(InputError):
        tiny.load_weights(path)
    with pytest.raises(InputError):
        grow_synthesis(grown, 2)  # cannot shrink


def test_widen_latents_decodes_the_same_scenes(batch, tmp_path) -> None:
    x, sb, sa = batch
    torch.manual_seed(0)
    tiny = SceneCompressionModel("tiny", "bisoam").eval()
    with torch.no_grad():  # latents a few quantisation steps wide, as trained ones are
        tiny.g_a.body[5].weight.mul_(30)
    s = tiny.slice
    state = torch.random.get_rng_state()
    wide = widen_latents(tiny, tiny.cfg["m"] + 2 * s).eval()
    assert torch.equal(torch.random.get_rng_state(), state)  # seeded on its own
    again = widen_latents(tiny, tiny.cfg["m"] + 2 * s)
    assert all(torch.equal(a, b) for a, b in zip(wide.state_dict().values(),
                                                 again.state_dict().values(), strict=True))
    assert wide.cfg["slices"] == tiny.cfg["slices"] + 2 and wide.cfg["ma"] == tiny.cfg["m"]
    # the added channels are coded (the streams grow) but no decoded pixel changes
    payloads = wide.compress(x, sb, sa)
    assert torch.equal(wide.decompress(payloads), tiny.decompress(tiny.compress(x, sb, sa)))
    assert torch.equal(wide(x, sb, sa)["x_hat"], tiny(x, sb, sa)["x_hat"])
    # the added channels learn: the synthesis' zero weights for them get gradients
    wide.train()
    rd_terms(wide(x, sb, sa), x, 0.025)[0].backward()
    assert wide.g_s.layers[0].layers[0].weight.grad[:, tiny.cfg["m"]:].abs().sum() > 0
    path = tmp_path / "wide.safetensors"
    wide.save_weights(path)
    again = SceneCompressionModel(weights_config(path), "bisoam")
    again.load_weights(path)
    with pytest.raises(InputError):
        widen_latents(tiny, tiny.cfg["m"] + 1)  # not a whole slice


def test_grow_model_combines_and_checks() -> None:
    torch.manual_seed(0)
    small = SceneCompressionModel("compact", None)
    big = grow_model(small, "wide")
    assert big.cfg == SceneCompressionModel("wide", None).cfg and big.config_name == "wide"
    both = grow_model(small, {**small.cfg, "m": 96, "slices": 6, "gs_depth": 2})
    assert (both.cfg["m"], both.cfg["gs_depth"], both.cfg["ma"]) == (96, 2, 64)
    broad = grow_model(small, "broad")
    assert (broad.cfg["s1"], broad.cfg["s2"], broad.cfg["n1"]) == (48, 64, 32)
    assert count_parameters(broad) > count_parameters(big)
    with pytest.raises(InputError):
        grow_model(small, "medium")  # other widths differ


def test_widen_synthesis_decodes_the_same_scenes(tiny, batch) -> None:
    x, sb, sa = batch
    state = torch.random.get_rng_state()
    wide = widen_synthesis(tiny, tiny.cfg["s1"] + 4, tiny.cfg["s2"] + 8).eval()
    assert torch.equal(torch.random.get_rng_state(), state)  # seeded on its own
    assert wide.g_s.layers[0].layers[0].weight.shape[0] == 4 * (tiny.cfg["s2"] + 8)
    _assert_same_coding_then_train(wide, tiny, batch)
    last = wide.g_s.layers[-1].layers[0].weight.grad  # reads the added 1/4-res channels
    assert last[:, tiny.cfg["s1"]:].abs().sum() > 0
    with pytest.raises(InputError):
        widen_synthesis(tiny, tiny.cfg["s1"] - 1, tiny.cfg["s2"])


def test_configs_from_before_gs_depth_still_load(tiny, tmp_path) -> None:
    """Weights saved before ``gs_depth`` existed carry configs without it: they mean 1."""
    path = tmp_path / "old.safetensors"
    tiny.save_weights(path)
    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    cfg = json.loads(meta["config"])
    del cfg["gs_depth"]
    save_file(tensors, str(path), metadata={**meta, "config": json.dumps(cfg)})
    assert weights_config(path)["gs_depth"] == 1
    SceneCompressionModel("tiny", "bisoam").load_weights(path)


def test_train_attention_only_and_transforms_only():
    torch.manual_seed(0)
    m = SceneCompressionModel("tiny", "bisoam").eval()
    attn = m.train_attention_only()
    assert {id(p) for p in m.parameters() if p.requires_grad} == {id(p) for p in attn} != set()
    with pytest.raises(InputError, match="attention"):
        SceneCompressionModel("tiny", None).train_attention_only()
    x = torch.from_numpy(_scene(40, 56))[None, None]
    sb, sa = _spikes(x, 4, 1), _spikes(x, 4, 2)
    with torch.no_grad():
        ae = m.transforms_only(x, sb, sa)
        y = m.g_a(torch.nn.functional.pad(x, (0, 8, 0, 24), mode="replicate"),
                  torch.nn.functional.pad(sb, (0, 8, 0, 24), mode="replicate"),
                  torch.nn.functional.pad(sa, (0, 8, 0, 24), mode="replicate"))
        assert torch.equal(ae, m.g_s(y)[:, :, :40, :56].clamp(0, 1))
    assert ae.shape == x.shape
    with pytest.raises(InputError, match="spikes_before"):
        m.transforms_only(x)


def _real_cost(model: SceneCompressionModel, x: torch.Tensor, payloads: list[dict],
               lam: float) -> np.ndarray:
    """Per-scene bpp (actual stream bytes) + lam * 255**2 * MSE of the decoded scene."""
    x_hat = model.decompress(payloads)
    bits = np.array([8 * (len(p["z"]) + len(p["y"])) for p in payloads], float)
    mse = (x_hat - x).pow(2).flatten(1).mean(1).numpy()
    return bits / (x.shape[-2] * x.shape[-1]) + lam * 255**2 * mse


def test_latent_refinement_lowers_cost_and_is_reproducible(tiny, batch) -> None:
    x, sb, sa = batch
    lam = 0.05
    plain = tiny.compress(x, sb, sa)
    refined = tiny.compress(x, sb, sa, refine_steps=30, lam=lam)
    j0, j1 = _real_cost(tiny, x, plain, lam), _real_cost(tiny, x, refined, lam)
    # an untrained analysis leaves a large gap; each scene's real cost must not rise
    assert np.all(j1 <= j0 * 1.01) and j1.mean() < 0.95 * j0.mean(), (j0, j1)
    assert tiny.compress(x, sb, sa, refine_steps=30, lam=lam) == refined  # seeded noise
    # each scene draws its own noise: refined alone or in a batch, the same bytes
    assert tiny.compress(x[1:2], sb[1:2], sa[1:2], refine_steps=30, lam=lam)[0] == refined[1]
    with pytest.raises(InputError, match="lam"):
        tiny.compress(x, sb, sa, refine_steps=5)


@pytest.mark.gpu
def test_latent_refinement_on_cuda_decodes_anywhere(tiny, batch) -> None:
    import copy

    x, sb, sa = batch
    gpu = copy.deepcopy(tiny).to("cuda")
    payloads = gpu.compress(x.cuda(), sb.cuda(), sa.cuda(), refine_steps=10, lam=0.05)
    assert torch.equal(gpu.decompress(payloads, device="cuda").cpu(), tiny.decompress(payloads))


def test_from_latents_returns_what_the_synthesis_decodes(tiny: SceneCompressionModel,
                                                         batch) -> None:
    x, sb, sa = batch
    with torch.no_grad():
        y = tiny.analyse(x, sb, sa)
        out = tiny.from_latents(y, tiny.h_a(y), *x.shape[-2:], noisy=False)
        y_hat = out["y_hat"]
        assert y_hat.shape == y.shape
        # quantised: within half a step of the analysis latents, on the 1/8 mean grid
        assert float((y_hat - y).abs().max()) <= 0.5
        assert torch.equal(y_hat * 8, torch.round(y_hat * 8))
        x_hat = tiny.g_s(y_hat)[:, :, :x.shape[2], :x.shape[3]].clamp(0, 1)
        assert torch.equal(x_hat, out["x_hat"])
        # the exact decoder draws the same scene from the stream (16-bit output, int grid)
        assert torch.allclose(tiny.decompress(tiny.compress(x, sb, sa)), x_hat, atol=2e-3)
