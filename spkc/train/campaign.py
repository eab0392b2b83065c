"""Train all quality levels of `learned` and `baseline` in one bounded run (made for a GPU lease).

Two phases, each a set of :mod:`spkc.train.image_codec` processes running side by side (a small
codec keeps one GPU busy only with several processes feeding it):

1. per (config, variant): quality 3 from the newest shipped weights of that config (or from
   scratch when the config has none), constant learning rate;
2. per (config, variant, quality 1-4): fine-tuned from phase 1's output, cosine decay.

``--resume DIR`` skips phase 1 and continues every quality from an earlier run's ``final/``;
``--resume-shipped`` likewise from the newest weights the package ships of each (variant,
config, quality) -- how a lease continues the shipped sets without retraining q3 first.

Every process is bounded by wall-clock minutes and stops cleanly on SIGTERM, writing its
weights, so a run cut short still returns everything finished so far. Logs go to
``OUT/logs``; a JSON summary (one line per process) to ``OUT/summary.jsonl``.

Example (what the session-3 GPU lease ran; see docs/training-log.md)::

    python -m spkc.train.campaign --device cuda --configs compact,medium \\
        --images .gpu/bsds --phase1-minutes 4.0 --phase2-minutes 2.8 --hard-minutes 8.3 \\
        --out /tmp/campaign

(Formerly ``tools/train_codec_campaign.py``, same arguments.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from spkc.codecs.learned import WEIGHTS_DIR, find_weights, newest_shipped_weights

VARIANTS = {"bisoam": "bisoam", "baseline": "none"}  # file-name variant -> --attention


def latest_weights(variant: str, config: str, quality: int) -> Path | None:
    """The newest weights file the package ships for (variant, config, quality), if any (a
    config such as "medium" has none)."""
    name = newest_shipped_weights(variant, config, quality)
    return find_weights(name, [WEIGHTS_DIR]) if name else None


def gpu_sample() -> str:
    """One nvidia-smi reading (utilisation, memory), or '' without one."""
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                               "--format=csv,noheader"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def run_phase(jobs: list[dict], common: list[str], out: Path, minutes: float,
              hard_deadline: float) -> list[dict]:
    """Start one :mod:`spkc.train.image_codec` process per job and wait for all. Past
    ``minutes`` + 90 s (start-up grace) or ``hard_deadline`` (epoch seconds) every process
    still running gets SIGTERM, which makes it stop training and write its weights."""
    procs = []
    for job in jobs:
        log = open(out / "logs" / f"{job['name']}.log", "w")
        cmd = [sys.executable, "-m", "spkc.train.image_codec", *common,
               "--minutes", str(minutes), *job["args"]]
        log.write(" ".join(cmd) + "\n")
        log.flush()
        procs.append((job, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
    t0 = time.time()
    deadline = min(t0 + minutes * 60 + 90, hard_deadline)
    sampled = False
    while any(p.poll() is None for _, p, _ in procs):
        if not sampled and time.time() - t0 > minutes * 30:
            print(f"  GPU at mid-phase (utilisation, memory): {gpu_sample() or 'n/a'}",
                  flush=True)
            sampled = True
        if time.time() > deadline:
            for _, p, _ in procs:
                if p.poll() is None:
                    p.terminate()
            deadline = float("inf")
        time.sleep(1.0)
    results = []
    for job, p, log in procs:
        log.close()
        lines = (out / "logs" / f"{job['name']}.log").read_text().splitlines()
        summary = next((json.loads(x) for x in reversed(lines) if x.startswith("{")), None)
        results.append({"name": job["name"], "returncode": p.returncode, "result": summary})
        last = next((x for x in reversed(lines) if x.startswith("step ")), "")
        print(f"{job['name']}: rc={p.returncode} "
              + (f"steps={summary['steps']} in {summary['train_seconds']} s; last: {last}"
                 if summary else "no result: " + (lines[-1] if lines else "")), flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module docstring); ``argv`` defaults to ``sys.argv[1:]``."""
    ap = argparse.ArgumentParser(prog="python -m spkc.train.campaign",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--configs", default="compact", help="comma-separated codec configs")
    ap.add_argument("--images", type=Path, help="training images folder (image_codec --images)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--phase1-minutes", type=float, default=4.0)
    ap.add_argument("--phase2-minutes", type=float, default=3.0)
    ap.add_argument("--batch1", type=int, default=16)
    ap.add_argument("--batch2", type=int, default=8)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--lr-warm", type=float, default=2e-4, help="phase-1 lr from weights")
    ap.add_argument("--lr-fresh", type=float, default=5e-4, help="phase-1 lr from scratch")
    ap.add_argument("--lr2", type=float, default=1e-4, help="phase-2 peak lr (cosine)")
    ap.add_argument("--lr2-fresh", type=float, default=2e-4,
                    help="phase-2 peak lr for configs that phase 1 started from scratch")
    ap.add_argument("--resume", type=Path,
                    help="skip phase 1: phase 2 starts each quality from RESUME/{variant}-"
                         "{config}-q{Q}.safetensors (an earlier run's final/ folder)")
    ap.add_argument("--resume-shipped", action="store_true",
                    help="skip phase 1: phase 2 starts each quality from the newest weights "
                         "the package ships of it (configs without any are skipped)")
    ap.add_argument("--grow-from", default=None,
                    help="configs with no shipped weights start phase 1 from this config's "
                         "newest weights grown into them (image_codec grows an --init of a smaller "
                         "config) instead of from scratch")
    ap.add_argument("--new-rate-ramp", type=int, default=1500,
                    help="phase 1 from grown weights: steps before added latent channels pay "
                         "their full rate (image_codec --new-rate-ramp)")
    ap.add_argument("--hard-minutes", type=float, default=float("inf"),
                    help="whole-run bound: processes still running then are stopped (they "
                         "write their weights)")
    args = ap.parse_args(argv)

    if args.resume is not None and not args.resume.is_dir():
        raise SystemExit(f"--resume {args.resume}: no such folder")
    if args.resume is not None and args.resume_shipped:
        raise SystemExit("--resume and --resume-shipped exclude each other")
    resuming = args.resume is not None or args.resume_shipped
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    common = ["--device", args.device, "--val", "0", "--clip", "10", "--crop", str(args.crop),
              "--log-every", "200"]
    if args.images:
        common += ["--images", str(args.images)]
    configs = args.configs.split(",")
    summary: list[dict] = []
    hard_deadline = time.time() + args.hard_minutes * 60
    # from scratch: no shipped weights of the config nor of --grow-from (grown ones start warm)
    grow_init = args.grow_from and latest_weights("bisoam", args.grow_from, 3)
    fresh = {c for c in configs if latest_weights("bisoam", c, 3) is None and not grow_init}

    phase1 = []
    for ci, config in enumerate(configs if not resuming else []):
        for vi, (variant, attention) in enumerate(VARIANTS.items()):
            init = latest_weights(variant, config, 3)
            grown = init is None and args.grow_from is not None
            if grown:
                init = latest_weights(variant, args.grow_from, 3)
                grown = init is not None
            a = ["--config", config, "--attention", attention, "--quality", "3",
                 "--batch", str(args.batch1), "--seed", str(100 + 10 * ci + vi),
                 "--lr", str(args.lr_warm if init else args.lr_fresh),
                 "--out", str(args.out / "phase1" / f"{variant}-{config}-q3.safetensors")]
            if init:
                a += ["--init", str(init)]
            if grown:
                a += ["--new-rate-ramp", str(args.new_rate_ramp)]
            phase1.append({"name": f"p1-{variant}-{config}", "args": a})
    if phase1:
        summary += run_phase(phase1, common, args.out, args.phase1_minutes, hard_deadline)

    phase2 = []
    for ci, config in enumerate(configs):
        for vi, (variant, attention) in enumerate(VARIANTS.items()):
            for q in (1, 2, 3, 4):
                if args.resume_shipped:
                    init = latest_weights(variant, config, q)
                elif args.resume is not None:
                    init = args.resume / f"{variant}-{config}-q{q}.safetensors"
                else:
                    init = args.out / "phase1" / f"{variant}-{config}-q3.safetensors"
                if init is None or not init.exists():
                    print(f"phase 2 skips {variant}-{config}-q{q}: no "
                          f"{init or 'shipped weights'}")
                    continue
                lr2 = args.lr2_fresh if config in fresh and not resuming else args.lr2
                phase2.append({"name": f"p2-{variant}-{config}-q{q}", "args": [
                    "--config", config, "--attention", attention, "--quality", str(q),
                    "--batch", str(args.batch2), "--schedule", "cosine", "--lr", str(lr2),
                    "--seed", str(200 + 10 * ci + 4 * vi + q), "--init", str(init),
                    "--out", str(args.out / "final" / f"{variant}-{config}-q{q}.safetensors")]})
    if time.time() < hard_deadline - 60:
        summary += run_phase(phase2, common, args.out, args.phase2_minutes, hard_deadline)
    else:
        print("phase 2 skipped: the whole-run bound is (nearly) reached")
    with open(args.out / "summary.jsonl", "w") as f:
        for row in summary:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
