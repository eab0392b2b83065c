"""Tables of ``tools/bench.py`` results (:func:`spkc.eval.speed.run_bench` documents).

:func:`preset_summary` is the presets' trade-off (spkc/pipeline/presets.json, shown by
``spkc compress --help``), :func:`rd_verdict` checks the fast preset against TFP + JPEG XL,
:func:`format_bench` prints the rows and :func:`speed_markdown` writes docs/results-speed.md.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["format_bench", "preset_summary", "rd_verdict", "speed_markdown"]


def rd_verdict(points: list[dict]) -> dict:
    """Whether every point of the fast preset lies above the TFP + JPEG XL envelope: for each
    fast point, the best PSNR any TFP + JPEG XL point reaches at no more bits."""
    fast = sorted((p for p in points if p["label"] == "fast"),
                  key=lambda p: p["bits_per_spike_pixel"])
    other = [p for p in points if p["label"] != "fast"]
    checks = []
    for p in fast:
        cheaper = [o["scene_psnr"] for o in other
                   if o["bits_per_spike_pixel"] <= p["bits_per_spike_pixel"]]
        env = max(cheaper) if cheaper else None
        checks.append({"quality": p["quality"], "bits": p["bits_per_spike_pixel"],
                       "psnr": p["scene_psnr"], "envelope_psnr": env})
    above = all(c["envelope_psnr"] is None or c["psnr"] > c["envelope_psnr"] for c in checks)
    best_other = max(o["scene_psnr"] for o in other) if other else None
    verdict = ("fast is above the TFP + JPEG XL envelope at every point" if above else
               "fast is NOT above the TFP + JPEG XL envelope at every point")
    if best_other is not None:
        verdict += (f" (fast {min(c['psnr'] for c in checks):.2f}-"
                    f"{max(c['psnr'] for c in checks):.2f} dB at "
                    f"{checks[0]['bits']:.4f}-{checks[-1]['bits']:.4f} bits/spike-pixel; best "
                    f"TFP + JPEG XL point at any rate {best_other:.2f} dB)")
    return {"points": points, "checks": checks, "above_envelope": above, "verdict": verdict}


def format_bench(doc: dict, markdown: bool = False) -> str:
    """The benchmark rows as a text (or Markdown) table."""
    head = ["stage", "codec", "preset", "q", "device", "frames/s", "MB/s", "ratio",
            "bits/spike-px", "PSNR dB*", "speed/zstd", "peak RSS MiB"]
    body = []
    for r in doc["rows"]:
        sv = r.get("speed_vs_zstd19")
        bits = r.get("bits_per_spike_pixel")
        ps = r.get("scene_psnr")
        body.append([r["stage"], r["codec"], r.get("preset", ""),
                     str(r.get("quality", "") or ""),
                     r.get("device", ""), f"{r['frames_per_s']:.0f}", f"{r['mb_per_s']:.1f}",
                     f"{r['ratio']:.2f}" if "ratio" in r else "",
                     f"{bits:.5f}" if bits is not None else "",
                     f"{ps:.2f}" if ps is not None else "",
                     f"{sv:.3g}x" if sv else "", f"{r['peak_rss_bytes'] / 2**20:.0f}"])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
    else:
        w = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
        lines = ["  ".join(h.rjust(x) for h, x in zip(head, w, strict=True))]
        lines += ["  ".join(c.rjust(x) for c, x in zip(b, w, strict=True)) for b in body]
    if any(r.get("scene_psnr") is not None for r in doc["rows"]):
        lines.append(("\n" if markdown else "") + f"* PSNR of the scene at frame "
                     f"{doc.get('gt_frame')} against the ground truth, measured at "
                     f"{doc.get('quality_frames_per_scene')} frames per scene")
    for s in doc["skipped"]:
        lines.append(("* " if markdown else "") + f"skipped {s['stage']} {s['codec']}: "
                     f"{s['reason']}")
    return "\n".join(lines)


def preset_summary(doc: dict) -> dict:
    """Per preset (cpu): compress/decompress frames/s, ratios to zstd -19, bits, PSNR, RSS."""
    out = []
    for r in doc["rows"]:
        if r.get("device") != "cpu" or "preset" not in r or r["stage"] != "compress":
            continue
        d = next((x for x in doc["rows"] if x["stage"] == "decompress"
                  and x.get("preset") == r["preset"] and x.get("device") == "cpu"), None)
        out.append({
            "preset": r["preset"], "codec": r["codec"], "quality": r.get("quality"),
            "reconstructor": r.get("reconstructor"),
            "compress_frames_per_s": r["frames_per_s"],
            "compress_vs_zstd19": r["speed_vs_zstd19"],
            "decompress_frames_per_s": d["frames_per_s"] if d else None,
            "decompress_vs_zstd19": d["speed_vs_zstd19"] if d else None,
            "bits_per_spike_pixel": r.get("bits_per_spike_pixel"),
            "ratio": r.get("ratio"), "scene_psnr": r.get("scene_psnr"),
            "quality_bits_per_spike_pixel": r.get("quality_bits_per_spike_pixel"),
            "quality_frames_per_scene": doc.get("quality_frames_per_scene"),
            "compress_peak_rss_mib": r["peak_rss_bytes"] / 2**20,
        })
    return {"clip": Path(doc["src"]).name, "gt_frame": doc.get("gt_frame"),
            "quality_frames_per_scene": doc.get("quality_frames_per_scene"),
            "threads": doc.get("threads"),
            "machine_summary": f"{doc['machine']['cpu']}, {doc['machine']['cores']} cores",
            "created": doc.get("created"), "commit": doc.get("commit"),
            "zstd19_compress_frames_per_s": next(
                (r["frames_per_s"] for r in doc["rows"]
                 if r["codec"] == "zstd-19" and r["stage"] == "compress"), None),
            "presets": out}


def speed_markdown(doc: dict, plot_name: str | None = None) -> str:
    """docs/results-speed.md: the presets' trade-off, every row, the RD check, RSS vs length."""
    m = doc["machine"]
    lines = ["# Speed results", "",
             f"Generated by `python tools/bench.py {doc.get('argv', '')}` "
             f"({doc.get('created')}, commit {doc.get('commit')}) on {m['cpu']}, "
             f"{m['cores']} cores, torch {m.get('torch')}, GPU: {m.get('gpu') or 'none'}. "
             f"Clip: `{Path(doc['src']).name}` ({doc['frames']} frames, {doc['height']}x"
             f"{doc['width']}), {doc['frames_per_scene']} frames per scene, "
             f"{doc.get('threads') or 'default'} torch thread(s) per stage. {doc['timing']}; "
             f"the machine is shared, so absolute figures move with its load — the ratios "
             f"to zstd -19 (run in the same session) are the comparable ones.", ""]
    summ = preset_summary(doc)
    qs = doc.get("quality_frames_per_scene")
    if summ["presets"]:
        lines += ["## Encoder presets (learned codec, default quality)", "",
                  f"Speed, ratio and bits at {doc['frames_per_scene']} frames per scene (the "
                  f"default); quality (scene PSNR against the ground truth at frame "
                  f"{doc.get('gt_frame')}, affine fit, as `spkc eval`) and its bits at {qs} "
                  f"frames per scene, which puts a scene time on that frame.", "",
                  "| preset | reconstructor | compress frames/s | vs zstd -19 | decompress "
                  "frames/s | ratio | bits/spike-pixel | bits/spike-pixel "
                  f"(S={qs}) | scene PSNR dB (S={qs}) | compress peak RSS MiB |",
                  "|---|---|---|---|---|---|---|---|---|---|"]

        def f(x, fmt):
            return "-" if x is None else format(x, fmt)

        for p in summ["presets"]:
            lines.append(
                f"| {p['preset']} | {p['reconstructor']} | {p['compress_frames_per_s']:.0f} | "
                f"{p['compress_vs_zstd19']:.2f}x | {f(p['decompress_frames_per_s'], '.0f')} | "
                f"{p['ratio']:.0f}x | {p['bits_per_spike_pixel']:.5f} | "
                f"{f(p['quality_bits_per_spike_pixel'], '.5f')} | {f(p['scene_psnr'], '.2f')} "
                f"| {p['compress_peak_rss_mib']:.0f} |")
        lines.append("")
    if plot_name:
        lines += [f"![presets]({plot_name})", ""]
    lines += ["## Every stage", "", format_bench(doc, markdown=True), ""]
    if "rd" in doc:
        lines += ["## fast preset against TFP + JPEG XL", "", doc["rd"]["verdict"] + ".", "",
                  "| fast q | bits/spike-pixel | PSNR dB | best TFP + JPEG XL PSNR at no more "
                  "bits |", "|---|---|---|---|"]
        for c in doc["rd"]["checks"]:
            env = "-" if c["envelope_psnr"] is None else f"{c['envelope_psnr']:.2f}"
            lines.append(f"| {c['quality']} | {c['bits']:.5f} | {c['psnr']:.2f} | {env} |")
        lines += ["", "TFP + JPEG XL points (windows 9, 17, 25, 41 frames; qualities 1-8): "
                  + ", ".join(f"{p['label']} q{p['quality']} {p['bits_per_spike_pixel']:.4f}/"
                              f"{p['scene_psnr']:.2f}" for p in doc["rd"]["points"]
                              if p["label"] != "fast"), ""]
    long_rows = [r for r in doc["rows"] if r["stage"].startswith("compress-")]
    if long_rows:
        lines += ["## Compress peak RSS against clip length (default preset)", "",
                  "Each timed once (for memory, not speed: the 1x row repeats the medium "
                  "compress row above minutes later, and the difference in frames/s is the "
                  "machine's load).", "",
                  "| clip | frames | frames/s | peak RSS MiB |", "|---|---|---|---|"]
        for r in long_rows:
            lines.append(f"| {r['stage'].removeprefix('compress-')} | {r['frames']} | "
                         f"{r['frames_per_s']:.0f} | {r['peak_rss_bytes'] / 2**20:.0f} |")
        lines.append("")
    return "\n".join(lines)
