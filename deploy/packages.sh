#!/bin/sh
# The Debian packages OrderHub's monitoring and its tests use, installed when missing:
# prometheus (with promtool), prometheus-alertmanager (with amtool), kcat, fonts-noto-cjk
# (Chinese text in the assessment chart).
#   deploy/packages.sh             install what is missing; fail when it cannot (make test)
#   deploy/packages.sh --optional  install when it may; otherwise say in one line what to
#                                  install and go on (make run)
set -eu
optional=no
[ "${1:-}" = "--optional" ] && optional=yes

need=""
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need="$need prometheus"
command -v prometheus-alertmanager >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 \
    || need="$need prometheus-alertmanager"
command -v kcat >/dev/null 2>&1 || need="$need kcat"
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need="$need fonts-noto-cjk"
[ -z "$need" ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && command -v apt-get >/dev/null 2>&1; then
    sudo="sudo -n"
else
    echo "orderhub: install the Debian packages:$need (sudo apt-get install$need)"
    [ "$optional" = yes ] && exit 0
    exit 1
fi
echo "orderhub: installing Debian packages:$need"
# apt-get update once: a fresh machine has no package lists
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need >/dev/null
