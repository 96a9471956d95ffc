#!/usr/bin/env bash
# Installs the Debian packages faasml needs to build, test, benchmark and run its demo.
# Idempotent and quiet when everything is already there. Run as root (or with sudo available).
set -euo pipefail

# build and test
PKGS=(build-essential cmake pkg-config clang clang-format
      libevent-dev libcurl4-openssl-dev libyaml-dev libsqlite3-dev sqlite3 libcjson-dev libcmocka-dev
      libxnnpack-dev libpthreadpool-dev libopenblas-dev libdnnl-dev libjpeg-dev libpng-dev
      libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata libxxhash-dev
      gnuplot-nox curl)
# instance sandboxes (seccomp filter) and SigV4 request signing (HMAC-SHA256)
PKGS+=(libseccomp-dev libssl-dev)
# TLS on the gateway (libevent's OpenSSL part ships in libevent-dev); openssl makes test certificates
PKGS+=(openssl)
# the browser check of the HTML report (tests/integration/report_html.sh)
PKGS+=(chromium)
# model export (tools/models) and the Python/PyTorch example runtime
PKGS+=(python3 python3-torch python3-torchvision python3-onnx python3-numpy)
# peers for bench/ and the awscli/boto3 integration test; /usr/bin/time -v measures peak RSS in bench/
PKGS+=(nginx wrk awscli time python3-boto3)
# faasml package: zip for lambda-zip; buildah/podman (runc: crun refuses cgroup v1 hybrid mode)
# for the OCI image and its tests; fuse-overlayfs where overlay cannot nest; uidmap and slirp4netns
# for rootless podman; the CNI plugins and iptables for `podman run -p`
PKGS+=(zip unzip buildah podman runc conmon fuse-overlayfs uidmap slirp4netns containernetworking-plugins iptables)
# node + npm for onnxruntime-node in bench/infer (a node installed otherwise, with npm, is fine)
command -v npm >/dev/null || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
