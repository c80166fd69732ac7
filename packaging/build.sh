#!/usr/bin/env bash
# Build the desktop viewer as one folder with PyInstaller, then smoke-test the result.
#
#   packaging/build.sh [PYINSTALLER OPTION...]      e.g. packaging/build.sh --clean
#
# Which Python: $PYTHON if set, else the active virtual environment ($VIRTUAL_ENV), else a
# fresh one in packaging/build/venv made with `pip install '.[package]'`. An environment
# that already has csv-state-viewer (an editable install is fine) only gets the `package`
# extra's requirements, so a development install is never replaced.
# CSV_STATE_WITH_TF=1 bundles TensorFlow and Keras too (about 2 GB instead of ~0.3 GB).
# Output: packaging/dist/csv-state-viewer/ (packaging/dist/csv-state-viewer-tf/ with TF).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

with_tf=${CSV_STATE_WITH_TF:-0}
[ "$with_tf" = "" ] && with_tf=0
if [ "$with_tf" != 0 ]; then variant=csv-state-viewer-tf; else variant=csv-state-viewer; fi
dist=$ROOT/packaging/dist
work=$ROOT/packaging/build
app=$dist/$variant

say() { printf '\n== %s\n' "$*"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- the environment
if [ -n "${PYTHON:-}" ]; then
  py=$PYTHON
elif [ -n "${VIRTUAL_ENV:-}" ]; then
  py=$VIRTUAL_ENV/bin/python
else
  py=$work/venv/bin/python
  if [ ! -x "$py" ]; then
    say "creating the build environment $work/venv"
    python3 -m venv "$work/venv"
    "$py" -m pip install --upgrade pip
  fi
fi
if "$py" -c "import csv_state_viewer" 2>/dev/null; then
  say "using $py (csv-state-viewer installed); adding the 'package' extra's requirements"
  mapfile -t requirements < <("$py" - <<'EOF'
import tomllib

with open("pyproject.toml", "rb") as handle:
    print("\n".join(tomllib.load(handle)["project"]["optional-dependencies"]["package"]))
EOF
)
  "$py" -m pip install --quiet "${requirements[@]}"
else
  say "installing csv-state-viewer[package] into $py's environment"
  "$py" -m pip install "$ROOT[package]"
fi

if ! "$py" resources/make_icons.py --check >/dev/null; then
  echo "build.sh: the icon PNGs are older than the SVG; run: python resources/make_icons.py" >&2
  exit 1
fi

# ---------------------------------------------------------------- the build
say "PyInstaller -> $app (CSV_STATE_WITH_TF=$with_tf)"
start=$EPOCHREALTIME
# (TF_CPP_MIN_LOG_LEVEL: the hooks import TensorFlow, whose start-up chatter says nothing here.)
CSV_STATE_WITH_TF=$with_tf TF_CPP_MIN_LOG_LEVEL=2 "$py" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$dist" --workpath "$work/$variant" "$@" packaging/csv-state-viewer.spec
build_s=$(since "$start")

# ---------------------------------------------------------------- smoke tests
exe=$app/csv-state-viewer
smoke=$work/$variant/smoke  # screenshots and logs of the smoke tests
rm -rf "$smoke"
mkdir -p "$smoke"
png=$smoke/histogram.png
log=$smoke/stderr.log
say "smoke test: $exe --screenshot"
start=$EPOCHREALTIME
QT_QPA_PLATFORM=offscreen "$exe" resources/samples/mlp_adam.csv --screenshot "$png" \
  --select sequential/dense/kernel --tab histogram
startup_s=$(since "$start")
if ! head -c 8 "$png" 2>/dev/null | od -An -c | grep -q 'P   N   G'; then
  echo "build.sh: the frozen app wrote no PNG screenshot at $png" >&2
  exit 1
fi

keras=resources/samples/mlp_adam.keras
if [ -f "$keras" ]; then
  say "smoke test: a .keras file (h5py is bundled; names need Keras, else structural)"
  QT_QPA_PLATFORM=offscreen "$exe" "$keras" --screenshot "$smoke/keras.png" >/dev/null
fi

# A TensorFlow checkpoint, written by the build environment's TensorFlow when it has one:
# without TF the frozen app must refuse it in one line (exit 2), with TF it must open it.
if "$py" -c "import importlib.util, sys; sys.exit(not importlib.util.find_spec('tensorflow'))"
then
  say "smoke test: a TensorFlow checkpoint"
  mkdir -p "$smoke/ckpt"
  TF_CPP_MIN_LOG_LEVEL=3 "$py" -m csv_state_viewer.cli.main convert \
    resources/samples/mlp_adam.csv "$smoke/ckpt/model.ckpt" >/dev/null
  set +e
  QT_QPA_PLATFORM=offscreen "$exe" "$smoke/ckpt/model.ckpt.index" \
    --screenshot "$smoke/ckpt.png" >/dev/null 2>"$log"
  code=$?
  set -e
  cat "$log"
  if [ "$with_tf" = 0 ]; then
    if [ "$code" != 2 ] || [ "$(wc -l <"$log")" != 1 ]; then
      echo "build.sh: expected exit 2 and one line without TensorFlow (got $code)" >&2
      exit 1
    fi
  elif [ "$code" != 0 ]; then
    echo "build.sh: the TensorFlow build could not open a checkpoint (exit $code)" >&2
    exit 1
  fi
fi

say "done"
printf 'build time      %s s\n' "$build_s"
printf 'frozen startup  %s s (open, render, write the PNG, exit)\n' "$startup_s"
printf 'folder size     %s\n' "$(du -sh "$app" | cut -f1)"
printf 'run it          %s [FILE...]\n' "${exe#"$ROOT"/}"
