#!/usr/bin/env bash
# Idempotent setup used by `make demo` and `make test`: system tools, .venv, Python
# packages (pinned by constraints.txt) and the embedded models. Re-running skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.installed

need_apt=()
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
# SIP peers for the SIP trunk tests (tests/telephony/sip, tests/e2e/test_sip_call.py)
command -v sipp >/dev/null 2>&1 || need_apt+=(sip-tester)
command -v baresip >/dev/null 2>&1 || need_apt+=(baresip-core)
# Real human speech with transcripts, for the STT word-error benchmark (benchmarks/stt_listening.py)
[ -d /usr/share/pocketsphinx/test/data ] || need_apt+=(pocketsphinx-testdata)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need_apt[*]} (apt)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: warning: ${need_apt[*]} missing (espeak caller voice, SIP test peers, real-speech WER set)" >&2
  fi
fi

if [ ! -x $VENV/bin/python ]; then
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed"'
  echo "setup: creating $VENV"
  "$PYTHON" -m venv $VENV
fi

want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f $STAMP ] || [ "$(cat $STAMP)" != "$want" ]; then
  echo "setup: installing Python packages (llama-cpp-python builds from source once, ~5 min)"
  $VENV/bin/pip install -q --upgrade pip
  # A portable llama.cpp build (no -march=native), so the wheel pip caches runs on any x86_64.
  CMAKE_ARGS="-DGGML_NATIVE=OFF" $VENV/bin/pip install -q -c constraints.txt \
    -e ".[pipeline,models,sidecars,dev]"
  echo "$want" > $STAMP
fi

$VENV/bin/voice-agent models fetch
