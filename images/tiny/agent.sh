#!/bin/sh
# CloonixActors guest agent (busybox sh). See README.md for the protocol.
#
# On the virtio-serial port named org.cloonix.agent, one line each way, fields separated by one space:
#   host -> guest: REQ <id> <timeout_seconds> <b64(argv0)> <b64(argv1)> ...
#   guest -> host: RES <id> <exit_code> <b64(stdout)> <b64(stderr)>
#   guest -> host, once per agent start: HELLO <kernel-version>
# Arguments are decoded into positional parameters and run as "$@": never evaluated as shell code.
# Exit code 124: killed at the timeout; 127: no such program; 126: not executable;
# 125: the agent rejected the request (message in stderr).

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
PORT_NAME=org.cloonix.agent
[ -r /etc/cloonix-agent-port ] && read -r PORT_NAME </etc/cloonix-agent-port
CAP=1048576                 # bytes of stdout and of stderr sent back, at most
WORK=/run/cloonix-agent
NEVER=$WORK/never           # a fifo nobody writes: "read -t" on it is a sleep without a fork

log() { echo "cloonix-agent: $*"; }

# ---------------------------------------------------------------- setup
mkdir -p "$WORK/out" "$WORK/err" || exit 1
# Captured output lives on two small tmpfs, so a chatty command fills them (ENOSPC for the
# command), not the guest's memory.
for d in out err; do
    grep -q " $WORK/$d " /proc/mounts || mount -t tmpfs -o size=8m,mode=0700 tmpfs "$WORK/$d"
done
rm -f "$WORK"/out/* "$WORK"/err/* "$WORK"/timeout.*   # left by an agent killed mid-request
[ -p "$NEVER" ] || { rm -f "$NEVER"; mkfifo -m 600 "$NEVER"; } || exit 1

# shellcheck disable=SC3045 # busybox read -t takes fractions; exit 1 at the timeout
nap() { read -r -t "$1" _ <>"$NEVER"; }

find_port() { # sets DEV to /dev/vportNpM of the port named $PORT_NAME
    for p in /sys/class/virtio-ports/*; do
        [ -r "$p/name" ] || continue
        n=
        read -r n <"$p/name" 2>/dev/null
        if [ "$n" = "$PORT_NAME" ] && [ -c "/dev/${p##*/}" ]; then
            DEV=/dev/${p##*/}
            return 0
        fi
    done
    return 1
}

i=0
until find_port; do
    i=$((i + 1))
    [ "$i" = 50 ] && log "waiting for virtio-serial port $PORT_NAME"
    nap 0.2
done
# a port can be open only once: fails with EBUSY while an older holder lives (init retries)
command exec 3<>"$DEV" || { log "cannot open $DEV"; exit 1; }
log "ready"
# Blocks in the kernel until a host is connected to the port's socket.
printf 'HELLO %s\n' "$(uname -r)" >&3

# ---------------------------------------------------------------- requests
b64file() { # first $CAP bytes of a file, base64 without wrapping (nothing for an empty file)
    if [ -s "$1" ]; then head -c "$CAP" "$1" | base64 -w 0; fi
}

reply_error() { # id code message
    printf 'RES %s %s  %s\n' "$1" "$2" "$(printf 'cloonix-agent: %s\n' "$3" | base64 -w 0)" >&3
}

decode() { # base64 field -> $v (kept exact, trailing newlines included)
    v=
    [ -n "$1" ] || return 0
    case $1 in *[!A-Za-z0-9+/=]*) return 1 ;; esac
    v=$(printf '%s' "$1" | base64 -d 2>/dev/null && echo x) || return 1
    v=${v%x}
}

handle() { # one request line
    rest=$1 eol=0
    next() {
        case $rest in
            *' '*) f=${rest%%' '*}; rest=${rest#*' '} ;;
            *) f=$rest; rest=; eol=1 ;;
        esac
    }
    next
    [ "$f" = REQ ] || { log "ignored a line that is not a REQ"; return; }
    [ "$eol" = 0 ] && next
    id=$f
    case $id in ''|*[!0-9]*) log "ignored a REQ without a numeric id"; return ;; esac
    [ "$eol" = 0 ] || { reply_error "$id" 125 "no timeout"; return; }
    next
    t=$f
    case $t in ''|*[!0-9]*|??????????*) reply_error "$id" 125 "bad timeout '$t'"; return ;; esac
    set --
    while [ "$eol" = 0 ]; do
        next
        decode "$f" || { reply_error "$id" 125 "argument $(($# + 1)) is not base64"; return; }
        set -- "$@" "$v"
    done
    [ $# -gt 0 ] || { reply_error "$id" 125 "empty argv"; return; }
    [ -n "$1" ] || { reply_error "$id" 125 "empty program name"; return; }
    run "$@"
}

run() {
    out=$WORK/out/$id err=$WORK/err/$id mark=$WORK/timeout.$id
    rm -f "$out" "$err" "$mark"
    # Own session and process group (the timeout kills the group); stdin /dev/null; the port's fd
    # closed; output to files, not pipes, so a command that leaves a daemon behind cannot hang us.
    setsid -- "$@" </dev/null >"$out" 2>"$err" 3>&- &
    pid=$! wd=
    if [ "$t" -gt 0 ]; then
        (
            nap "$t"
            : >"$mark"
            kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
            nap 2
            kill -KILL -"$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
        ) <>/dev/null >/dev/null 2>&1 3>&- &
        wd=$!
    fi
    wait "$pid" 2>/dev/null   # (2>/dev/null: no "Terminated" job notice on the console)
    rc=$?
    if [ -n "$wd" ]; then
        kill "$wd" 2>/dev/null
        wait "$wd" 2>/dev/null
    fi
    [ -e "$mark" ] && [ "$rc" -gt 128 ] && rc=124
    {
        printf 'RES %s %s ' "$id" "$rc"
        b64file "$out"
        printf ' '
        b64file "$err"
        printf '\n'
    } >&3
    rm -f "$out" "$err" "$mark"
}

CR=$(printf '\r')
while :; do
    line=
    if IFS= read -r line <&3; then
        line=${line%"$CR"}
        [ -n "$line" ] && handle "$line"
    else
        # EOF: no host connected to the port (or it left in the middle of a line); the port stays
        # open and delivers again once a host connects.
        nap 0.2
    fi
done
