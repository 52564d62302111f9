#!/bin/busybox sh
# /init of the earlymem oracle's initramfs (first kernel and kdump kernel).
# Prints what the kernel decided between markers on the serial console:
#   @@@@BEGIN <mode>/<name>@@@@ ... @@@@END <mode>/<name>@@@@ @@@@RC <mode>/<name>=<rc>@@@@
# <mode> is "first", or "kdump" when /proc/vmcore exists.  Knobs on the
# command line: oracle.kexec=none|load|file|both, oracle.crash=1, oracle.dump=1 (the kdump
# kernel runs makedumpfile; its initramfs then holds it: earlymem.oracle.initramfs).
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
dmesg -n 1

mode=first
[ -e /proc/vmcore ] && mode=kdump

getarg() {
    for w in $(cat /proc/cmdline); do
        case "$w" in "$1="*) echo "${w#*=}"; return;; esac
    done
}

section() {
    name=$1; shift
    echo "@@@@BEGIN $mode/$name@@@@"
    "$@" 2>&1
    rc=$?
    echo "@@@@END $mode/$name@@@@"
    echo "@@@@RC $mode/$name=$rc@@@@"
}

firmware_memmap() {
    for n in $(ls /sys/firmware/memmap | sort -n); do
        d=/sys/firmware/memmap/$n
        echo "$n $(cat $d/start) $(cat $d/end) $(cat $d/type)"
    done
}

nodes() {
    for d in /sys/devices/system/node/node*; do
        [ -d "$d" ] || continue
        echo "$(basename $d) cpulist=$(cat $d/cpulist)"
        grep -E 'MemTotal|MemFree|MemUsed' $d/meminfo
    done
}

dump_all() {
    section uptime cat /proc/uptime
    section cmdline cat /proc/cmdline
    section dmesg dmesg
    section iomem cat /proc/iomem
    section zoneinfo cat /proc/zoneinfo
    section buddyinfo cat /proc/buddyinfo
    section meminfo head -n 25 /proc/meminfo
    section firmware_memmap firmware_memmap
    section nodes nodes
    section kexec_crash_size cat /sys/kernel/kexec_crash_size
    section kexec_crash_loaded cat /sys/kernel/kexec_crash_loaded
}

dump_all
# the loader's setup_data nodes (setup_data_chain.c): no log line shows them from 7.0 on
[ "$mode" = first ] && section setup_data /bin/setup-data-chain

# The dump as kdump-tools and kdumpctl make it for a network target: flattened
# (-F) into a pipe, lzo, dump level 31.  The pipe keeps the page cache out of
# the measure; the exit status travels on stderr, the byte count on stdout.
dump_vmcore() {
    { makedumpfile -F -l -d 31 --message-level 6 /proc/vmcore; echo "makedumpfile exit status $?" >&2; } | wc -c
}

# oracle.calibrate=1: the same dump, watched: the least MemFree seen while it
# runs and makedumpfile's VmHWM, polled every 50 ms into one-line files (a
# file rewritten in place keeps one page of rootfs).
watch_memory() {
    least=999999999; hwm=0
    while [ ! -e /tmp/dump.done ]; do
        f=$(sed -n 's/^MemFree: *\([0-9]*\) kB/\1/p' /proc/meminfo)
        [ "$f" -lt "$least" ] && least=$f && echo "$least" > /tmp/memfree.least
        for p in $(pidof makedumpfile); do
            h=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$p/status 2>/dev/null)
            [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h && echo "$hwm" > /tmp/vmhwm.most
        done
        sleep 0.05
    done
}

dump_vmcore_watched() {
    watch_memory &
    dump_vmcore
    rc=$?
    touch /tmp/dump.done
    wait
    echo "least MemFree: $(cat /tmp/memfree.least) kB"
    echo "makedumpfile VmHWM: $(cat /tmp/vmhwm.most 2>/dev/null || echo 0) kB"
    return $rc
}

# oracle.memcg=1: the same dump in a memory cgroup of its own, and the most memory charged to it
# (memory.peak, cgroup v2, 5.19+; memory.max_usage_in_bytes of cgroup v1 before): makedumpfile's
# anonymous memory, its page tables and kernel objects, the pipe and the bitmap file in /tmp, at
# their peak -- exactly, where polling MemFree can miss the peak and adds its own forks.
dump_vmcore_memcg() {
    mkdir -p /sys/fs/cgroup
    case "$(uname -r)" in
        [1-4].*|5.[0-9].*|5.1[0-8].*)
            mount -t cgroup -o memory none /sys/fs/cgroup || return 1
            peak=memory.max_usage_in_bytes ;;
        *)
            mount -t cgroup2 none /sys/fs/cgroup || return 1
            echo +memory > /sys/fs/cgroup/cgroup.subtree_control || return 1
            peak=memory.peak ;;
    esac
    mkdir /sys/fs/cgroup/dump || return 1
    sh -c 'echo $$ > /sys/fs/cgroup/dump/cgroup.procs && { makedumpfile -F -l -d 31 --message-level 6 /proc/vmcore; echo "makedumpfile exit status $?" >&2; } | wc -c'
    rc=$?
    echo "memcg peak: $(($(cat /sys/fs/cgroup/dump/$peak) / 1024)) kB ($peak)"
    grep -E '^(anon|file|shmem|kernel|kernel_stack|pagetables|sock|slab|percpu|rss|cache|mapped_file) ' /sys/fs/cgroup/dump/memory.stat
    return $rc
}

if [ "$mode" = kdump ]; then
    section vmcore_size stat -c %s /proc/vmcore
    # oracle.detail=1: what the capture kernel did before /init, in its counters (diagnostic)
    if [ "$(getarg oracle.detail)" = 1 ]; then
        section vmstat cat /proc/vmstat
        section stat cat /proc/stat
        section meminfo_full cat /proc/meminfo
        section vmallocinfo cat /proc/vmallocinfo
        section slabinfo cat /proc/slabinfo
    fi
    if [ "$(getarg oracle.dump)" = 1 ]; then
        before=$(dmesg | wc -l)
        if [ "$(getarg oracle.memcg)" = 1 ]; then
            section makedumpfile dump_vmcore_memcg
        elif [ "$(getarg oracle.calibrate)" = 1 ]; then
            section makedumpfile dump_vmcore_watched
        else
            section makedumpfile dump_vmcore
        fi
        section meminfo_after head -n 25 /proc/meminfo
        section dmesg_after sh -c "dmesg | tail -n +$((before + 1))"
    fi
    poweroff -f
fi

# loglevel=4 (the recipe used 7): the kdump kernel's log is dumped in kdump/dmesg anyway,
# and a quiet console keeps captures small; the level changes no memory decision.
KAPPEND="console=ttyS0 loglevel=4 irqpoll nr_cpus=1 reset_devices log_buf_len=1M panic=-1 oracle.mode=kdump"
for w in $(cat /proc/cmdline); do
    case "$w" in nokaslr|oracle.dump=1|oracle.calibrate=1|oracle.memcg=1|oracle.detail=1) KAPPEND="$KAPPEND $w";; esac
    # oracle.oomreport=1: the capture kernel prints every level on the console, so that an
    # out-of-memory report (its Mem-Info) is captured even when the capture kernel dies
    [ "$w" = oracle.oomreport=1 ] && KAPPEND="$KAPPEND ignore_loglevel"
    # oracle.kdumparg=WORD: WORD is added to the capture kernel's command line (a diagnostic knob,
    # e.g. oracle.kdumparg=initramfs_async=0)
    case "$w" in oracle.kdumparg=*) KAPPEND="$KAPPEND ${w#oracle.kdumparg=}";; esac
done

kexec_load() {
    kexec -p /boot/vmlinuz --initrd=/boot/kdump-initrd.img --append="$KAPPEND" --debug
}

kexec_normal() {
    kexec -l /boot/vmlinuz --initrd=/boot/kdump-initrd.img --append="$KAPPEND" --debug
}

kexec_file() {
    for f in kexec_file.c kexec-bzimage64.c kexec_core.c crash.c crash_core.c crash_reserve.c machine_kexec_64.c; do
        echo "file $f +p" > /sys/kernel/debug/dynamic_debug/control 2>/dev/null
    done
    before=$(dmesg | wc -l)
    # kexec_file_load(2) with KEXEC_FILE_DEBUG (kexec_file_load.c): the kernel
    # places the segments and, asked to, prints where.
    /bin/kexec-file-load /boot/vmlinuz /boot/kdump-initrd.img "$KAPPEND" > /tmp/kexec_file.out 2>&1
    rc=$?
    dmesg | tail -n +$((before + 1)) > /tmp/kexec_file_dmesg
    cat /tmp/kexec_file.out
    return $rc
}

case "$(getarg oracle.kexec)" in
    load) section kexec_load_debug kexec_load ;;
    normal) section kexec_normal_debug kexec_normal ;;
    file) section kexec_file_debug kexec_file; section kexec_file_dmesg cat /tmp/kexec_file_dmesg ;;
    both)
        section kexec_load_debug kexec_load
        section kexec_unload kexec -p -u
        section kexec_file_debug kexec_file
        section kexec_file_dmesg cat /tmp/kexec_file_dmesg ;;
esac
section kexec_crash_loaded_after cat /sys/kernel/kexec_crash_loaded

if [ "$(getarg oracle.crash)" = 1 ] && [ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ]; then
    echo "@@@@CRASH first@@@@"
    echo 1 > /proc/sys/kernel/sysrq
    echo c > /proc/sysrq-trigger
fi
poweroff -f
