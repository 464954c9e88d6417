#!/usr/bin/env bash
# Installs what xrec needs on Debian 12 (idempotent: only missing packages are installed).
# Run as root (or with sudo). Used by both README commands and by CI.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache git
  libtorch-dev            # LibTorch 1.13 (CPU)
  libopenblas0-openmp     # makes Debian's LibTorch use OpenBLAS instead of the slow reference BLAS
  libboost-dev            # Boost.DLL (header-only)
  libyaml-cpp-dev libspdlog-dev libsqlite3-dev sqlite3
  libcurl4-openssl-dev    # named datasets: downloads
  libssl-dev              # SHA-256 (OpenSSL uses the CPU's SHA instructions)
  libgtest-dev libgmock-dev
  clang libclang-rt-dev   # the fuzz job (.ci/fuzz.sh): clang and libFuzzer (libclang_rt.fuzzer)
  chromium                # headless browser: the report's browser test, `xrec report html --format svg|png`
  libgloo-dev             # c10d's ProcessGroupGloo includes <gloo/...>; libtorch-dev does not pull it in
)
# The Slurm test (tests/slurm, CTest label slurm) starts these daemons on localhost. Without recommends:
# the recommended extras (mail, mysql clients) are not needed and slow the install.
norecommends=(slurmctld slurmd slurm-client munge)

missing=() missing_norec=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for p in "${norecommends[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing_norec+=("$p")
done

if ((${#missing[@]} + ${#missing_norec[@]})); then
  echo "xrec setup: installing ${missing[*]} ${missing_norec[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  if ((${#missing[@]})); then "${sudo_cmd[@]}" apt-get install -y -q "${missing[@]}"; fi
  if ((${#missing_norec[@]})); then
    "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing_norec[@]}"
  fi
else
  echo "xrec setup: all packages present"
fi

# Which BLAS LibTorch will call: OpenBLAS is several times faster than the reference BLAS.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)
echo "xrec setup: libblas.so.3 -> ${blas:-none}"
case "$blas" in
  *openblas*) ;;
  *) echo "xrec setup: warning: libblas.so.3 is not OpenBLAS; training will be slow" >&2 ;;
esac
