#!/usr/bin/env bash
# Android: the adb command line (Debian's platform-tools build). adbutils ships its own adb binary too, but the
# Debian one is what `adb connect` / `adb devices` in docs/android.md run, and adbutils prefers it when on PATH.
# No emulator or system image is installed: none can run here (no binder driver); tests use the replay device.
set -euo pipefail
if ! command -v adb >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq adb
fi
adb version | head -1
