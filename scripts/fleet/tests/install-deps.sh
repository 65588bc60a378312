#!/usr/bin/env bash
# What the fleet tests need from Debian 12, pinned: Slurm and MUNGE for the local cluster
# (scripts/fleet/tests/slurm.sh), Chromium and a font for the HTML page in a browser (html.sh).
# apt-get installs only what is missing or at another version, so a second run does nothing.
# Needs root, as CI has; scripts/test.sh runs it.
set -euo pipefail
packages=(
  slurm-wlm=22.05.8-4+deb12u3
  munge=0.5.15-2+deb12u1
  # bookworm's own Chromium (not the security update's), with its common files at the same version
  chromium=150.0.7871.100-1~deb12u1
  chromium-common=150.0.7871.100-1~deb12u1
  fonts-dejavu-core=2.37-6
)
missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Version}' "${p%%=*}" 2>/dev/null)" != "${p#*=}" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps.sh: installing ${missing[*]} needs root (CI runs as root); or apt-get install them yourself" >&2
  exit 1
fi
echo "install-deps: apt-get install ${missing[*]}"
apt-get update -q >/dev/null
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "install-deps.sh: apt-get could not install ${missing[*]}: a pinned version may have left Debian's archive (\`apt-cache policy NAME\` lists what is there): update the pin in $0" >&2
  exit 1
fi
