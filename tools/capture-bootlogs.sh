#!/usr/bin/env bash
# Capture the early boot log of real Debian kernels under QEMU (TCG), with no
# initramfs: the kernel prints its memory map, fails to mount a root fs and
# powers off (panic=-1 with -no-reboot).  Only the serial console is kept.
#
# Usage: tools/capture-bootlogs.sh OUTDIR KERNELDIR < configs
#   KERNELDIR holds vmlinuz-<ver> files (unpacked Debian linux-image packages).
#   Each config line:  NAME|QEMU OPTIONS|EXTRA KERNEL COMMAND LINE
# Issue 3 replaces this with earlymem.oracle; the fixtures it made record
# their exact qemu command in NAME.cmd.
set -euo pipefail
out=$1; kdir=$2
mkdir -p "$out"
while IFS='|' read -r name qopts extra; do
  [ -z "$name" ] && continue
  case "$name" in \#*) continue;; esac
  for k in "$kdir"/vmlinuz-*; do
    ver=${k##*/vmlinuz-}
    base="$out/$name--$ver"
    cmd="qemu-system-x86_64 -accel tcg,thread=multi $qopts -nographic -no-reboot -kernel vmlinuz-$ver -append \"console=ttyS0 loglevel=7 nokaslr panic=-1 $extra\""
    echo "$cmd" > "$base.cmd"
    # shellcheck disable=SC2086
    timeout 120 qemu-system-x86_64 -accel tcg,thread=multi $qopts -nographic -no-reboot \
      -kernel "$k" -append "console=ttyS0 loglevel=7 nokaslr panic=-1 $extra" \
      < /dev/null > "$base.raw" 2>&1 || true
    echo "captured $base"
  done
done
