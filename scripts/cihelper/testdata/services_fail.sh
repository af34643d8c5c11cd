#!/bin/bash
# Exercise services.sh's install failure report with a failing step.
set -u
export SCYLLAOPS_CI_DIR=$(mktemp -d)
source <(sed '/^if \[\[ \${BASH_SOURCE\[0\]} != "\$0" \]\]; then/,$d' "$1")
mkdir -p "$_svc_dir/logs"
noisy() { for i in $(seq 60); do echo "tar: Ignoring unknown extended header keyword 'LIBARCHIVE.xattr.$i'" >&2; done; echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)" >&2; return 100; }
_svc_install_rclone() { _svc_step rclone "apt-get install rclone" noisy; }
_svc_install_helper() { :; }
_svc_install rclone 2>&1 | head -4
rm -rf "$SCYLLAOPS_CI_DIR"
