#!/usr/bin/env bash
# Builds a local stand-in for the official Node image the Dockerfiles start FROM, for machines with
# no registry to pull it from: a Debian bookworm minbase rootfs, this machine's node and npm under
# /usr/local (where the official image keeps them), the machine's CA bundle and a `node` user with
# uid 1000. Does nothing when podman already has that exact name:tag. The rootfs is cached in
# .stack/images/, so only the first run pays for debootstrap.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_podman
image=$(base_image) # e.g. node:20.20.2-bookworm-slim
if podman image exists "$image"; then
  say "$image: already in podman"
  exit 0
fi

# The stand-in says it is node X.Y.Z: it must really be, or a Docker user's image would differ.
tag=${image#*:}
host_node=$(node --version)
case $tag in
  "${host_node#v}"-bookworm*) ;;
  *) die "the Dockerfiles want $image but this machine's node is $host_node: pin the tag to it" ;;
esac

rootfs_tar=$(minbase_rootfs)

say "assembling $image from the cached rootfs and this machine's node $host_node"
dir=$(mktemp -d "$IMAGES_DIR/rootfs.XXXXXX")
trap 'rm -rf "$dir"' EXIT
tar -C "$dir" -xzf "$rootfs_tar"
# What debian:bookworm-slim leaves out too: nothing at run time reads docs, man pages or locales.
rm -rf "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/*
install -D -m 0755 "$(command -v node)" "$dir/usr/local/bin/node"
npm_dir=$(npm root -g 2>/dev/null)/npm
mkdir -p "$dir/usr/local/lib/node_modules"
cp -a "$npm_dir" "$dir/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dir/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dir/usr/local/bin/npx"
# npm in a build reaches the registry through this machine's TLS setup, so it needs this CA
# bundle. npm's global config (<prefix>/etc/npmrc) points at it; the host's ~/.npmrc (nodedir=…)
# is deliberately not copied.
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
install -D -m 0644 /dev/stdin "$dir/usr/local/etc/npmrc" <<<"cafile=/etc/ssl/certs/ca-certificates.crt"
# The official image's user: uid and gid 1000, home /home/node.
chroot "$dir" groupadd --gid 1000 node
chroot "$dir" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

tar -C "$dir" -cf - . | podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${host_node#v}" \
  --change 'CMD ["node"]' \
  - "$image" >/dev/null
say "$image: imported ($(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=si)B)"
