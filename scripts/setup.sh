# Sourced by test.sh and stapui.sh: system packages, tracefs, and a virtualenv with stapui.
SYSTEM_PACKAGES="gcc g++ libc6-dev libc6-dbg linux-libc-dev systemtap systemtap-doc systemtap-sdt-dev tmux bpftrace linux-perf"

missing=""
for pkg in $SYSTEM_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages:$missing" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "setup: please install these Debian packages first: sudo apt-get install$missing" >&2
    exit 1
  fi
fi
if [ "$(id -u)" = 0 ] && [ ! -d /sys/kernel/tracing/events ]; then
  mkdir -p /sys/kernel/tracing && mount -t tracefs nodev /sys/kernel/tracing || echo "setup: could not mount tracefs" >&2
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check '.[test]'
