#!/bin/bash
# Start the desktop inside the container, as the desktop user, in the order that works (ENVIRONMENT.md):
# Xvfb -> session D-Bus -> AT-SPI bus -> window manager -> desktopd (which then launches apps on request).
set -euo pipefail
export DISPLAY=:99 GTK_MODULES=gail:atk-bridge GNOME_ACCESSIBILITY=1 QT_ACCESSIBILITY=1 NO_AT_BRIDGE=0
export HOME=/home/user XDG_RUNTIME_DIR=/tmp/runtime-$(id -u) XDG_CACHE_HOME=/tmp/cache
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CACHE_HOME" "$HOME/.config" && chmod 700 "$XDG_RUNTIME_DIR"
cd "$HOME"
SCREEN=${WORLDLINE_SCREEN:-1280x800x24}

wait_for() {  # wait_for DESCRIPTION COMMAND...: poll up to 10 s
  local what=$1; shift
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "start-desktop: $what did not come up" >&2; exit 1
}

mkdir -p /tmp/.X11-unix && chmod 1777 /tmp/.X11-unix
Xvfb "$DISPLAY" -screen 0 "$SCREEN" -nolisten tcp -noreset -ac &
wait_for Xvfb xdpyinfo
eval "$(dbus-launch --sh-syntax)"
export DBUS_SESSION_BUS_ADDRESS
# For commands exec'd later into the same session (debugging, tests): `. /tmp/desktop-env.sh`.
printf 'export DISPLAY=%q DBUS_SESSION_BUS_ADDRESS=%q\n' "$DISPLAY" "$DBUS_SESSION_BUS_ADDRESS" > /tmp/desktop-env.sh
/usr/libexec/at-spi-bus-launcher --launch-immediately &
wait_for "the AT-SPI bus" dbus-send --session --print-reply --dest=org.a11y.Bus /org/a11y/bus org.a11y.Bus.GetAddress
# -noreset above matters: without it Xvfb resets when its first client (xdpyinfo) leaves, and a client
# connecting during that reset (openbox, once in a few starts) fails to open the display.
# Ready is when openbox runs its --startup command: after it has loaded its config and menus, taken the windows
# already there, right before its event loop. It sets _NET_SUPPORTING_WM_CHECK much earlier, at the start of that;
# an app whose window maps in between (a fresh desktop under load, the first launch of an episode) was managed
# late and never focused, or never mapped at all, and the first observation put its buttons where they were not.
rm -f /tmp/openbox-started
openbox --startup "touch /tmp/openbox-started" &
wait_for openbox test -e /tmp/openbox-started
# Park the pointer in the bottom-right corner, where no app window opens. Xvfb starts it at the centre of the
# screen, over the middle of the first app: it hovered there (galculator showed its "MS" button's tooltip over the
# digits 8 and 9, which eats the first click and which the accessibility tree does not show).
IFS=x read -r WIDTH HEIGHT _ <<< "$SCREEN"
xdotool mousemove "$((WIDTH - 1))" "$((HEIGHT - 1))"
exec python3 /opt/worldline/desktopd.py
