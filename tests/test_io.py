"""spkc.io: round trips through every format, .dat bit layout, streaming, errors, REDS check."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spkc.errors import InputError, OutputError, SpkcError
from spkc.io import (
    DatWriter,
    iter_dat,
    open_spike_writer,
    open_spikes,
    read_dat,
    read_h5,
    read_npy,
    read_npz,
    read_spikes,
    write_dat,
    write_h5,
    write_npy,
    write_npz,
    write_spikes,
)

FORMATS = [".dat", ".npy", ".npz", ".h5", ".hdf5"]
# tmp_path is shared by the examples of one test; each example overwrites its files.
_FIXTURE_OK = [HealthCheck.function_scoped_fixture]


@st.composite
def spike_arrays(draw):
    t = draw(st.integers(1, 6))
    h = draw(st.integers(1, 12))
    w = draw(st.integers(1, 12))
    if (h * w) % 8:  # .dat needs whole bytes per frame; widen to a multiple of 8
        w = 8 * draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    p = draw(st.sampled_from([0.0, 0.2, 0.5, 1.0]))
    return np.random.default_rng(seed).random((t, h, w)) < p


@settings(max_examples=40, deadline=None, suppress_health_check=_FIXTURE_OK)
@given(spikes=spike_arrays(), ext=st.sampled_from(FORMATS))
def test_round_trip_every_format(tmp_path: Path, spikes: np.ndarray, ext: str) -> None:
    T, H, W = spikes.shape
    path = tmp_path / f"clip{ext}"
    write_spikes(path, spikes)
    back = read_spikes(path, height=H, width=W)
    assert back.dtype == np.bool_ and back.shape == spikes.shape
    np.testing.assert_array_equal(back, spikes)
    with open_spikes(path, height=H, width=W) as src:
        assert src.shape == (T, H, W) and src.num_frames == T
        blocks = list(src.iter_blocks(block=2))
        assert all(b.shape[0] <= 2 for b in blocks)
        np.testing.assert_array_equal(np.concatenate(blocks), spikes)
        np.testing.assert_array_equal(src.read(T // 2, T), spikes[T // 2:])


@settings(max_examples=25, deadline=None, suppress_health_check=_FIXTURE_OK)
@given(spikes=spike_arrays(), ext=st.sampled_from([".dat", ".npy", ".h5"]),
       split=st.integers(1, 5))
def test_streaming_writers(tmp_path: Path, spikes: np.ndarray, ext: str, split: int) -> None:
    T, H, W = spikes.shape
    path = tmp_path / f"s{ext}"
    with open_spike_writer(path, H, W, num_frames=T) as w:
        for t in range(0, T, split):
            w.write(spikes[t:t + split])
        assert w.frames_written == T
    np.testing.assert_array_equal(read_spikes(path, height=H, width=W), spikes)


def test_dat_bit_layout_by_hand(tmp_path: Path) -> None:
    # 2 frames of 2x8: rows stored bottom-up, pixel i = bit i%8 of byte i//8.
    spikes = np.zeros((2, 2, 8), dtype=bool)
    spikes[0, 0, 0] = True  # top-left -> stored row 1 -> byte 1, bit 0
    spikes[0, 1, 7] = True  # bottom-right -> stored row 0 -> byte 0, bit 7
    spikes[1, 1, 2] = True  # frame 1, bottom row, x=2 -> byte 2, bit 2
    path = tmp_path / "x.dat"
    write_dat(path, spikes)
    assert path.read_bytes() == bytes([0x80, 0x01, 0x04, 0x00])
    np.testing.assert_array_equal(read_dat(path, height=2, width=8), spikes)


def test_dat_non_byte_aligned_rows(tmp_path: Path) -> None:
    # W = 6: rows straddle bytes; H*W = 24 bits = 3 bytes per frame.
    rng = np.random.default_rng(1)
    spikes = rng.random((3, 4, 6)) < 0.5
    path = tmp_path / "odd.dat"
    write_dat(path, spikes)
    raw = np.unpackbits(np.frombuffer(path.read_bytes(), np.uint8), bitorder="little")
    np.testing.assert_array_equal(raw.reshape(3, 4, 6)[:, ::-1], spikes)
    np.testing.assert_array_equal(read_dat(path, 4, 6), spikes)


def test_read_dat_range_and_iter(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    spikes = rng.random((11, 8, 16)) < 0.3
    path = tmp_path / "r.dat"
    write_dat(path, spikes)
    np.testing.assert_array_equal(read_dat(path, 8, 16, start=3, count=4), spikes[3:7])
    np.testing.assert_array_equal(read_dat(path, 8, 16, start=11), spikes[11:])
    blocks = list(iter_dat(path, 8, 16, block=4, start=1, count=9))
    assert [b.shape[0] for b in blocks] == [4, 4, 1]
    np.testing.assert_array_equal(np.concatenate(blocks), spikes[1:10])
    with pytest.raises(InputError, match="outside"):
        read_dat(path, 8, 16, start=5, count=10)
    with pytest.raises(InputError, match="outside"):
        read_dat(path, 8, 16, start=-1)


def test_dat_writer_appends(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    spikes = rng.random((5, 8, 8)) < 0.5
    path = tmp_path / "a.dat"
    with DatWriter(path, 8, 8) as w:
        w.write(spikes[:2])
        w.write(spikes[2])  # a single (H, W) frame
        w.write(spikes[3:].astype(np.uint8))  # integer 0/1 accepted
    np.testing.assert_array_equal(read_dat(path, 8, 8), spikes)
    with pytest.raises(OutputError, match="does not match"):
        with DatWriter(tmp_path / "b.dat", 8, 8) as w:
            w.write(np.zeros((1, 4, 16), dtype=bool))


def test_per_format_functions(tmp_path: Path) -> None:
    spikes = np.random.default_rng(4).random((3, 5, 8)) < 0.4
    write_npy(tmp_path / "a.npy", spikes)
    write_npz(tmp_path / "a.npz", spikes)
    write_h5(tmp_path / "a.h5", spikes)
    for back in (read_npy(tmp_path / "a.npy"), read_npz(tmp_path / "a.npz"),
                 read_h5(tmp_path / "a.h5")):
        np.testing.assert_array_equal(back, spikes)
    with h5py.File(tmp_path / "a.h5") as f:
        ds = f["spikes"]
        assert ds.chunks is not None and ds.compression == "gzip" and ds.dtype == np.bool_


def test_npz_single_other_key_and_uint8_npy(tmp_path: Path) -> None:
    spikes = np.random.default_rng(5).random((2, 4, 4)) < 0.5
    np.savez(tmp_path / "o.npz", whatever=spikes.astype(np.uint8))
    np.testing.assert_array_equal(read_spikes(tmp_path / "o.npz"), spikes)
    np.save(tmp_path / "u.npy", spikes.astype(np.uint8))
    np.testing.assert_array_equal(read_spikes(tmp_path / "u.npy"), spikes)
    np.savez(tmp_path / "two.npz", a=spikes, b=spikes)
    with pytest.raises(InputError, match="spk"):
        read_spikes(tmp_path / "two.npz")


# -- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("ext", FORMATS)
def test_missing_directory_empty(tmp_path: Path, ext: str) -> None:
    with pytest.raises(InputError, match="no such file") as e:
        open_spikes(tmp_path / f"nope{ext}")
    assert f"nope{ext}" in str(e.value)
    d = tmp_path / f"dir{ext}"
    d.mkdir()
    with pytest.raises(InputError, match="directory"):
        open_spikes(d)
    empty = tmp_path / f"empty{ext}"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_spikes(empty)


def test_dat_wrong_size_names_sizes(tmp_path: Path) -> None:
    path = tmp_path / "bad.dat"
    path.write_bytes(b"\0" * (12500 * 2 + 7))
    with pytest.raises(InputError) as e:
        read_dat(path)
    msg = str(e.value)
    assert "bad.dat" in msg and "25007" in msg and "12500" in msg
    with pytest.raises(InputError, match="multiple of 8"):
        read_dat(path, height=3, width=3)


@pytest.mark.parametrize("ext", [".h5", ".npy", ".npz"])
def test_unreadable_containers(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"junk{ext}"
    path.write_bytes(b"this is not a spike file at all" * 10)
    with pytest.raises(InputError) as e:
        read_spikes(path)
    assert f"junk{ext}" in str(e.value)


def test_h5_without_spikes_dataset(tmp_path: Path) -> None:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((2, 3, 4))
    with pytest.raises(InputError, match="no dataset 'spikes'"):
        open_spikes(path)


def test_unknown_extension_and_bad_arrays(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    p.write_text("hi")
    with pytest.raises(InputError, match="extension"):
        open_spikes(p)
    with pytest.raises(OutputError, match="extension"):
        write_spikes(tmp_path / "x.txt", np.zeros((1, 8, 8), bool))
    with pytest.raises(OutputError, match="dtype"):
        write_spikes(tmp_path / "f.dat", np.zeros((1, 8, 8), np.float32))
    np.save(tmp_path / "f.npy", np.zeros((2, 4, 4), np.float32))
    with pytest.raises(InputError, match="dtype"):
        read_spikes(tmp_path / "f.npy")
    np.save(tmp_path / "r2.npy", np.zeros((4, 4), bool))
    with pytest.raises(InputError, match=r"\(T, H, W\)"):
        read_spikes(tmp_path / "r2.npy")
    with pytest.raises(OutputError, match="number of frames"):
        open_spike_writer(tmp_path / "n.npy", 4, 4)


def test_npy_writer_short_write_is_an_error(tmp_path: Path) -> None:
    w = open_spike_writer(tmp_path / "short.npy", 4, 4, num_frames=3)
    w.write(np.zeros((2, 4, 4), bool))
    with pytest.raises(OutputError, match="2 of the 3"):
        w.close()
    with pytest.raises(OutputError, match="too many"):
        with open_spike_writer(tmp_path / "long.npy", 4, 4, num_frames=1) as w2:
            w2.write(np.zeros((2, 4, 4), bool))


def test_errors_are_spkc_errors() -> None:
    assert issubclass(InputError, SpkcError) and issubclass(OutputError, SpkcError)


# -- real data -------------------------------------------------------------------------------

@pytest.mark.shared_data
@pytest.mark.parametrize("part", ["203_part2", "203_part3"])
def test_reds_orientation(reds_dir: Path, part: str) -> None:
    from PIL import Image

    with open_spikes(reds_dir / f"{part}.dat") as src:
        assert src.shape == (301, 250, 400)
        window = src.read(131, 172)  # 41 frames centred on frame 151
    tfp = window.mean(axis=0)
    gt = np.asarray(Image.open(reds_dir / f"{part}.png").convert("L"), dtype=np.float64)
    corr = np.corrcoef(tfp.ravel(), gt.ravel())[0, 1]
    flipped = np.corrcoef(tfp[::-1].ravel(), gt.ravel())[0, 1]
    mirrored = np.corrcoef(tfp[:, ::-1].ravel(), gt.ravel())[0, 1]
    assert corr > 0.85, corr
    assert flipped < corr - 0.3 and mirrored < corr - 0.3, (corr, flipped, mirrored)


@pytest.mark.parametrize("ext", [".npy", ".npz", ".h5", ".dat"])
def test_blocks_are_private_and_writable(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"z{ext}"
    write_spikes(path, np.zeros((3, 4, 8), bool))
    with open_spikes(path, 4, 8) as src:
        block = src.read(0, 2)
        block[:] = True  # must not touch the file or the source's cache
        assert not src.read(0, 3).any()
