"""Raw spike formats: PKU ``.dat``, ``.npy``/``.npz`` and HDF5, read in blocks.

All readers return ``(T, H, W) bool`` with row 0 = top of the image. :func:`open_spikes` picks
the format by extension and streams; nothing loads a whole recording unless asked (``.npz``,
being a zip archive, is the exception: it is loaded on open).
"""

from spkc.io._common import SpikeWriter
from spkc.io.dat import (
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    DatWriter,
    dat_num_frames,
    iter_dat,
    read_dat,
    write_dat,
)
from spkc.io.hdf5 import H5Writer, read_h5, write_h5
from spkc.io.npy import NpyWriter, read_npy, read_npz, write_npy, write_npz
from spkc.io.source import (
    READ_EXTENSIONS,
    WRITE_EXTENSIONS,
    SpikeSource,
    open_spike_writer,
    open_spikes,
    read_spikes,
    write_spikes,
)

__all__ = [
    "DEFAULT_HEIGHT",
    "DEFAULT_WIDTH",
    "READ_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "DatWriter",
    "H5Writer",
    "NpyWriter",
    "SpikeSource",
    "SpikeWriter",
    "dat_num_frames",
    "iter_dat",
    "open_spike_writer",
    "open_spikes",
    "read_dat",
    "read_h5",
    "read_npy",
    "read_npz",
    "read_spikes",
    "write_dat",
    "write_h5",
    "write_npy",
    "write_npz",
    "write_spikes",
]
