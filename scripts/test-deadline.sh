#!/usr/bin/env bash
# Runs a test command under a deadline: `scripts/test-deadline.sh swift test ...`.
#
# A test that hangs (a wait nothing will ever end) would otherwise hold a CI
# run silently until the CI's own limit. Here, past OMNICHAT_TEST_DEADLINE
# seconds (default 1200), every thread of each test process is printed with
# gdb (or lldb), the run is stopped, and the command fails with status 124,
# naming the deadline.
#
# The test runner's output is made line-buffered (stdbuf), so a log shows which
# tests started and never finished even when the run is stopped.
set -u

deadline=${OMNICHAT_TEST_DEADLINE:-1200}
if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

runner=()
if command -v stdbuf >/dev/null 2>&1; then runner=(stdbuf -oL -eL); fi

# A session of its own, so the whole tree (swift test, the test binary, the
# daemons it starts) can be stopped together.
setsid "${runner[@]}" "$@" &
pid=$!
stop_tree() {
    local signal=$1
    kill "-$signal" -- "-$pid" 2>/dev/null || kill "-$signal" "$pid" 2>/dev/null
}
trap 'stop_tree TERM; wait "$pid"; exit 130' INT TERM

backtraces() {
    local debugger
    for test_pid in $(pgrep -s "$pid" -f 'PackageTests\.xctest|\.xctest' 2>/dev/null); do
        echo "== test-deadline: threads of process $test_pid ($(tr '\0' ' ' < "/proc/$test_pid/cmdline" 2>/dev/null | cut -c1-200))" >&2
        # gdb first: the toolchain's lldb needs a libpython that Debian may lack.
        if debugger=$(command -v gdb); then
            timeout 180 "$debugger" -p "$test_pid" -batch -ex 'thread apply all bt' >&2 2>&1 || true
        elif debugger=$(command -v lldb); then
            timeout 180 "$debugger" --batch -p "$test_pid" -o 'thread backtrace all' -o 'process detach' >&2 2>&1 || true
        else
            echo "(neither lldb nor gdb is installed: no backtraces)" >&2
        fi
    done
}

start=$SECONDS
while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS - start >= deadline )); then
        echo "test-deadline: '$*' still running after ${deadline} s (OMNICHAT_TEST_DEADLINE); printing the test processes' threads, then stopping it" >&2
        backtraces
        stop_tree TERM
        sleep 5
        stop_tree KILL
        wait "$pid" 2>/dev/null
        echo "test-deadline: stopped '$*' after ${deadline} s: a test hung (see the threads above)" >&2
        exit 124
    fi
    sleep 2
done
wait "$pid"
