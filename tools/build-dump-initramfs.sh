#!/usr/bin/env bash
# Build a tiny initramfs (Debian's busybox-static + /init) that prints what a
# running kernel exposes about memory -- /proc/cmdline, /proc/iomem and
# /sys/firmware/memmap -- between @@@@BEGIN name@@@@ / @@@@END name@@@@ markers
# on the serial console, then powers off.  Used with tools/capture-bootlogs.sh
# (QEMU option: -initrd OUT).  Issue 3 replaces this with earlymem.oracle.
# Usage: tools/build-dump-initramfs.sh OUT.img   (needs busybox-static, cpio, gzip)
set -euo pipefail
out=$(realpath -m "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,proc,sys,dev}
cp "$(command -v busybox)" "$work/bin/busybox"
cat > "$work/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
dmesg -n 1
section() { echo "@@@@BEGIN $1@@@@"; }
endsection() { echo "@@@@END $1@@@@"; }
section cmdline; cat /proc/cmdline; endsection cmdline
section osrelease; cat /proc/sys/kernel/osrelease; endsection osrelease
section iomem; cat /proc/iomem; endsection iomem
section firmware_memmap
for n in $(ls /sys/firmware/memmap | sort -n); do
  d=/sys/firmware/memmap/$n
  echo "$n $(cat $d/start) $(cat $d/end) $(cat $d/type)"
done
endsection firmware_memmap
poweroff -f
INIT
chmod +x "$work/init"
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -9) > "$out"
echo "$out"
