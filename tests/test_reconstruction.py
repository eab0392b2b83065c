"""The reconstruction network: shapes, FLOP budget, alignment warp, weights round trip."""

from __future__ import annotations

import pytest
import torch

from spkc.models.reconstruction import (
    RECON_CONFIGS,
    ReconstructionNet,
    count_flops,
    load_reconstruction_net,
    param_count,
    save_reconstruction_net,
    warp_groups,
)


@pytest.mark.parametrize("hw", [(16, 16), (13, 22), (25, 40)])
def test_shapes_any_size(hw):
    torch.manual_seed(0)
    net = ReconstructionNet("tiny")
    x = (torch.rand(2, 2 * net.radius + 1, *hw) < 0.3).float()
    out = net(x)
    assert out["scene"].shape == (2, 1, *hw)
    assert out["coarse"].shape == (2, 1, *hw)
    assert out["scene"].dtype == torch.float32


def test_wrong_window_rejected():
    net = ReconstructionNet("tiny")
    with pytest.raises(ValueError, match="frames"):
        net(torch.zeros(1, 5, 8, 8))


def test_compact_flop_budget_and_paper_size():
    compact = ReconstructionNet("compact")
    flops = count_flops(compact, (250, 400))
    # recon <= ~5 GFLOP so that recon + compact codec stays <= 10 GFLOP per 250x400 scene
    assert flops <= 5.0e9, flops
    assert compact.radius == 20
    paper = ReconstructionNet("paper")
    assert param_count(paper) > 10 * param_count(compact)


def test_blocks_cover_window():
    for name, cfg in RECON_CONFIGS.items():
        net = ReconstructionNet(name)
        assert net.block_starts[0] == 0, name
        assert net.block_starts[-1] + net.block_len == 2 * cfg["radius"] + 1, name


def test_warp_zero_offset_is_identity_and_shift():
    x = torch.randn(2, 4, 9, 11)
    off = torch.zeros(2, 4, 9, 11)  # 2 groups x (dx, dy)
    torch.testing.assert_close(warp_groups(x, off, 2), x)
    off[:, 0] = 1.0  # group 0 samples one pixel to the right
    y = warp_groups(x, off, 2)
    torch.testing.assert_close(y[:, :2, :, :-1], x[:, :2, :, 1:])
    torch.testing.assert_close(y[:, 2:], x[:, 2:])


def test_untrained_net_starts_as_coarse():
    # the fusion output layer is zero-initialised: scene == coarse before training
    net = ReconstructionNet("tiny")
    out = net((torch.rand(1, 9, 8, 8) < 0.5).float())
    torch.testing.assert_close(out["scene"], out["coarse"])


def test_weights_round_trip(tmp_path):
    torch.manual_seed(1)
    net = ReconstructionNet("tiny").eval()
    p = tmp_path / "w.safetensors"
    save_reconstruction_net(net, p, {"note": "x"}, half=False)
    back = load_reconstruction_net(p)
    x = (torch.rand(1, 9, 12, 12) < 0.3).float()
    with torch.no_grad():
        torch.testing.assert_close(back(x)["scene"], net(x)["scene"])
    save_reconstruction_net(net, p, half=True)
    assert load_reconstruction_net(p).cfg == net.cfg


def test_bad_weights_file(tmp_path):
    from spkc.errors import MissingWeightsError

    p = tmp_path / "bad.safetensors"
    p.write_bytes(b"not safetensors")
    with pytest.raises(MissingWeightsError):
        load_reconstruction_net(p)


def test_gradients_reach_alignment():
    torch.manual_seed(0)
    net = ReconstructionNet("tiny")
    # make the offset heads non-trivial so their inputs get gradients
    for h in net.align.heads:
        torch.nn.init.normal_(h.c2.weight, std=0.01)
    torch.nn.init.normal_(net.out.weight, std=0.1)
    x = (torch.rand(2, 9, 16, 16) < 0.3).float()
    net(x)["scene"].mean().backward()
    assert net.align.heads[0].c1.weight.grad.abs().sum() > 0
    assert net.encoder.scale_convs[0].weight.grad.abs().sum() > 0
