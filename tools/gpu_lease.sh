#!/usr/bin/env bash
# The codec-training call of a device lease, prepared so that the 15 device minutes go to
# training (docs/training-log.md, "What the next GPU lease should run").
#
#   bash tools/gpu_lease.sh prepare          # here, once: .gpu/ = wheels + BSDS train images
#   bash tools/gpu_lease.sh train [ARGS...]  # on the device (the `run` tool, carry [".gpu"]):
#                                            # installs the wheels, runs
#                                            # python -m spkc.train.campaign ARGS and packs
#                                            # its phase1/, final/, logs and summary into
#                                            # $OUT/campaign.tar.part-*
#   bash tools/gpu_lease.sh unpack FILES_AT DEST [VERSION]   # here: the parts the run tool
#                                            # brought back (its files_at) -> DEST/{final,
#                                            # phase1,logs}; with VERSION also DEST/weights/
#                                            # learned-VARIANT-CONFIG-qQ-vVERSION.safetensors
#                                            # (for $SPKC_WEIGHTS_PATH)
#
# $OUT brings back at most 8 files of at most 16 MiB each (64 MiB together): one campaign
# of two configs is 16 weights files of ~2.6 MB, so they travel as one tar cut in 15 MiB parts.
#
# The device image has torch, numpy, safetensors and pillow but not constriction or crc32c,
# and it cannot see ../shared, so both travel in .gpu/ (about 17 MB; the carry limit is
# 64 MiB). .gpu/ is kept out of git through .git/info/exclude.
#
# Example (the plan of session 6/7: grow the compact codec into wide and broad):
#   bash tools/gpu_lease.sh train --configs wide,broad --grow-from compact \
#       --phase1-minutes 4 --phase2-minutes 4 --hard-minutes 8.5
# Environment: DEVICE (default cuda), CAMPAIGN_DIR (default /tmp/camp), OUT (set by `run`),
# PACK_LIMIT_MIB (default 60: above it phase1/ stays behind).
set -euo pipefail
cd "$(dirname "$0")/.."

prepare() {
    local exclude
    exclude="$(git rev-parse --git-dir)/info/exclude"
    mkdir -p "$(dirname "$exclude")"
    grep -qxF /.gpu/ "$exclude" 2>/dev/null || echo /.gpu/ >> "$exclude"
    mkdir -p .gpu/bsds .gpu/whl
    cp ../shared/data/bsds500/train/*.jpg .gpu/bsds/
    # the device runs CPython 3.12 on x86-64 Linux; the versions the dev venv runs
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
        --platform manylinux1_x86_64 -d .gpu/whl constriction==0.5.0 crc32c==2.9.post0
    echo "prepared .gpu/: $(ls .gpu/bsds | wc -l) images, $(ls .gpu/whl | wc -l) wheels," \
         "$(du -sh .gpu | cut -f1)"
}

train() {
    : "${OUT:?OUT must name the folder whose files come back (the run tool sets it)}"
    local dir=${CAMPAIGN_DIR:-/tmp/camp} status=0
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
    if ! python3 -c "import constriction, crc32c" 2>/dev/null; then
        python3 -m pip install --quiet --no-index --no-deps --target /tmp/site .gpu/whl/*.whl
    fi
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv
    # a campaign cut short still wrote every finished weights file: pack what there is
    python3 -m spkc.train.campaign --device "${DEVICE:-cuda}" --images .gpu/bsds \
        --out "$dir" "$@" || status=$?
    mkdir -p "$OUT"
    local parts=()
    for part in final phase1 logs summary.jsonl; do
        if [ -e "$dir/$part" ]; then parts+=("$part"); fi
    done
    # 64 MiB come back at most: phase1/ (only the start of final/) is the first to stay behind
    local limit=$(( ${PACK_LIMIT_MIB:-60} << 20 ))
    if [ ${#parts[@]} -gt 0 ] && \
       [ "$(cd "$dir" && du -cb "${parts[@]}" | tail -n 1 | cut -f1)" -gt "$limit" ]; then
        local kept=()
        for part in "${parts[@]}"; do [ "$part" = phase1 ] || kept+=("$part"); done
        parts=("${kept[@]}")
    fi
    if [ ${#parts[@]} -gt 0 ]; then
        tar -C "$dir" -cf - "${parts[@]}" | split -b 15M - "$OUT/campaign.tar.part-"
    fi
    echo "campaign exit status $status; packed ${parts[*]:-nothing}:" \
         "$(ls "$OUT" | tr '\n' ' ')"
    return "$status"
}

unpack() {
    local usage="usage: unpack FILES_AT DEST [VERSION]"
    local from=${1:?$usage} dest=${2:?$usage} version=${3:-}
    mkdir -p "$dest"
    cat "$from"/campaign.tar.part-* | tar -C "$dest" -xf -
    if [ -n "$version" ] && [ -d "$dest/final" ]; then
        # final/VARIANT-CONFIG-qQ.safetensors -> weights/learned-VARIANT-CONFIG-qQ-vVERSION
        # .safetensors: the names spkc looks for in $SPKC_WEIGHTS_PATH
        mkdir -p "$dest/weights"
        local f name
        for f in "$dest"/final/*.safetensors; do
            name="learned-$(basename "$f" .safetensors)-v$version.safetensors"
            # spkc finds a shipped name in the package before $SPKC_WEIGHTS_PATH, so a
            # candidate under that name would be silently replaced by the shipped weights
            if [ -e "spkc/weights/$name" ] || [ -e "spkc/weights/$name.zst" ]; then
                echo "gpu_lease.sh: spkc/weights/$name is shipped; unpack with a higher VERSION" >&2
                exit 1
            fi
            cp "$f" "$dest/weights/$name"
        done
        echo "candidates: SPKC_WEIGHTS_PATH=$dest/weights"
    fi
    ls -R "$dest" | head -40
}

case "${1:-}" in
    prepare) prepare ;;
    train) shift; train "$@" ;;
    unpack) shift; unpack "$@" ;;
    *) echo "usage: bash tools/gpu_lease.sh prepare | train [campaign args] |" \
            "unpack FILES_AT DEST [VERSION]" >&2
       exit 2 ;;
esac
