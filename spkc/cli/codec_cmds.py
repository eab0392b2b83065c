"""``spkc compress``, ``spkc decompress`` and ``spkc codecs``."""

from __future__ import annotations

import json

import click

from spkc._util import parse_key_values
from spkc.pipeline.compress import DEFAULT_FRAMES_PER_SCENE
from spkc.pipeline.presets import DEFAULT_PRESET, PRESET_NAMES, compress_help


@click.command("compress", help=compress_help())
@click.argument("src", type=click.Path(dir_okay=True))
@click.option("-o", "--output", "dst", required=True, type=click.Path(),
              help="Output .spkc file (written only when complete).")
@click.option("--codec", default="learned", show_default=True,
              help="Scene codec (see `spkc codecs`).")
@click.option("--quality", "-q", type=int, default=None,
              help="Codec quality level (higher = more bits). Default: the codec's default.")
@click.option("--frames-per-scene", "-S", type=int, default=DEFAULT_FRAMES_PER_SCENE,
              show_default=True, help="Spike frames per coded scene.")
@click.option("--reconstructor", default=None,
              help="tfp, tfi or learned (default: the preset's choice for the codec).")
@click.option("--radius", "-R", type=int, default=None,
              help="Reconstruction window radius in frames (window = 2R+1).")
@click.option("--height", type=int, default=250, show_default=True, help="Rows of a .dat input.")
@click.option("--width", type=int, default=400, show_default=True, help="Columns of a .dat input.")
@click.option("--rate", "frame_rate", type=float, default=20000.0, show_default=True,
              help="Capture rate in Hz (recorded in the header).")
@click.option("--device", default="cpu", show_default=True, help="torch device for encoding.")
@click.option("--preset", type=click.Choice(list(PRESET_NAMES)), default=DEFAULT_PRESET,
              show_default=True,
              help="Encoder speed/bits trade-off (see the table above); explicit options "
                   "override it.")
@click.option("--batch-size", type=int, default=None,
              help="Scenes per batch (default: the preset's).")
@click.option("--interpolation", type=click.Choice(["motion", "linear", "hold"]),
              default=None,
              help="Luminance between scenes for regeneration: motion-compensated (block "
                   "motion sent per scene pair, format 1.1), linear blend (format 1.0) or "
                   "hold. Default: the preset's (fast: linear; medium, slow: motion).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the regenerator's start phases.")
@click.option("--option", "-O", "options", multiple=True,
              help="Codec option KEY=VALUE (JSON value), e.g. -O bit_depth=8.")
@click.option("--recon-option", "recon_options", multiple=True,
              help="Reconstructor option KEY=VALUE (JSON value), e.g. --recon-option tta=1.")
@click.option("--gop", "group_length", type=int, default=None,
              help="Scenes per group for codecs with inter coding (hevc, av1): a key scene, "
                   "then scenes predicted from it; 1 = all-intra. [default: 32]")
@click.option("--meta", multiple=True, help="Metadata KEY=VALUE stored in the file.")
@click.option("--exact", is_flag=True,
              help="Also keep the source spikes losslessly (the exact layer, format 1.1): "
                   "`decompress --exact` returns them, `spkc strip` drops them.")
@click.option("--exact-block-frames", type=int, default=None,
              help="Frames per exact layer block (random-access granularity). "
                   "[default: 512]")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def compress_cmd(src, dst, codec, quality, frames_per_scene, reconstructor, radius, height,
                 width, frame_rate, device, preset, batch_size, interpolation, seed, options,
                 recon_options, group_length, meta, exact, exact_block_frames, quiet):
    """Compress a spike recording (.dat, .npy, .npz, .h5) into a .spkc file."""
    from spkc.pipeline import compress

    metadata = {}
    for pair in meta:
        key, _, value = pair.partition("=")
        metadata[key] = value
    res = compress(src, dst, codec=codec, quality=quality, frames_per_scene=frames_per_scene,
                   reconstructor=reconstructor, radius=radius, height=height, width=width,
                   frame_rate=frame_rate, device=device, batch_size=batch_size,
                   metadata=metadata, seed=seed, interpolation=interpolation,
                   codec_options=parse_key_values(options, "codec option"),
                   reconstructor_options=parse_key_values(recon_options, "reconstructor option"),
                   progress=not quiet, group_length=group_length, preset=preset, exact=exact,
                   exact_block_frames=exact_block_frames)
    if not res.reconstructor:  # a spike-stream codec: blocks of spikes, no scenes
        click.echo(
            f"{res.path}: {res.num_frames} frames {res.height}x{res.width}, {res.num_scenes} "
            f"blocks, {res.codec} (lossless), {res.file_bytes} bytes, "
            f"{res.bits_per_spike_pixel:.4f} bits/spike-pixel, {res.ratio:.2f}x, "
            f"{res.num_frames / res.seconds:.0f} frames/s")
        return
    click.echo(
        f"{res.path}: {res.num_frames} frames {res.height}x{res.width}, {res.num_scenes} scenes, "
        f"{res.codec} q{res.quality} + {res.reconstructor}, {res.file_bytes} bytes, "
        f"{res.bits_per_spike_pixel:.5f} bits/spike-pixel, {res.ratio:.1f}x, "
        f"{res.num_frames / res.seconds:.0f} frames/s"
        + (" (+ exact layer: the source spikes, lossless)" if exact else ""))


@click.command("decompress")
@click.argument("src", type=click.Path())
@click.option("-o", "--output", "dst", type=click.Path(), default=None,
              help="Spike output: .dat, .npy or .h5.")
@click.option("--scenes", "scenes_dir", type=click.Path(file_okay=False), default=None,
              help="Also write every decoded scene as a 16-bit PNG into this directory.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--allow-unfinished", is_flag=True,
              help="Decode the intact scenes of a file its writer did not finish "
                   "(refused otherwise: the output would be shorter than the recording).")
@click.option("--conceal", is_flag=True,
              help="Stand the nearest intact scene in for scenes that do not decode (damaged, "
                   "or lost before a repair) instead of failing; lists them.")
@click.option("--exact", is_flag=True,
              help="Write the source spikes from the file's exact layer (lossless) instead "
                   "of the regenerated stream.")
def decompress_cmd(src, dst, scenes_dir, device, quiet, allow_unfinished, conceal, exact):
    """Decode a .spkc file to spikes (and optionally scene PNGs)."""
    from spkc.errors import SceneCorruptError
    from spkc.pipeline import decompress

    try:
        info = decompress(src, dst, scenes_dir=scenes_dir, device=device, progress=not quiet,
                          allow_unfinished=allow_unfinished, conceal=conceal, exact=exact)
    except SceneCorruptError as exc:
        if conceal or exact:  # nothing decodes / no stand-in for source spikes
            raise
        raise SceneCorruptError(f"{exc.problem}; --conceal decodes the rest, the nearest intact "
                                "scene standing in", exc.path, scene=exc.scene) from exc
    if not info["complete"]:
        click.echo(f"{src}: warning: unfinished file; decoded its intact scenes only", err=True)
    for _, (why, j) in sorted(info["concealed"].items()):
        click.echo(f"{src}: warning: {why}; concealed by scene {j}", err=True)
    parts = []
    if info["output"]:
        parts.append(f"{info['frames']} frames"
                     + (" (source spikes, exact layer)" if exact else "")
                     + f" -> {info['output']}")
    if info["scenes_dir"]:
        parts.append(f"{info['scenes']} scenes -> {info['scenes_dir']}/")
    click.echo(f"{src}: " + ", ".join(parts))


@click.command("codecs")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def codecs_cmd(as_json):
    """List codecs (scene codecs and lossless spike-stream codecs) and whether each can run
    here."""
    from spkc.codecs import list_codecs

    infos = list_codecs()
    if as_json:
        click.echo(json.dumps([i.__dict__ for i in infos], indent=2))
        return
    for i in infos:
        state = "ok" if i.available else f"unavailable: {i.reason}"
        if i.available and i.reason:  # a partial capability, e.g. vtm "decode only: ..."
            state += f" ({i.reason})"
        kind = "lossless" if i.kind == "stream" else "lossy"
        click.echo(f"{i.name:10s} v{i.version or '?':4s} {kind:8s} {state}")


COMMANDS = [compress_cmd, decompress_cmd, codecs_cmd]
