package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// syncFlag is a pending sync request of `ctnetlink events`.
type syncFlag struct {
	mu sync.Mutex
	on bool
	// wakeFd is written to on set(): the receive loop waits on it too.
	wakeFd int
}

func (f *syncFlag) set() {
	f.mu.Lock()
	f.on = true
	f.mu.Unlock()
	_, _ = syscall.Write(f.wakeFd, []byte{1})
}

// take reports whether a request is pending and clears it: one mark answers every request before it.
func (f *syncFlag) take() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	was := f.on
	f.on = false
	return was
}

// syncRequests watches stdin when it is a pipe (or a socket: Node's child-process pipes are socket
// pairs), ctflow's lifeline: each "sync" line sets `pending` (events answers with a "!SYNC" mark);
// "sync at T" sets it at wall-clock time T, µs since the epoch (ctflow asks ahead of a poll's due
// time, as it schedules the poll's dump: serve.go),
// and EOF ends the process. ctflow holds the other end: when ctflow dies (even by SIGKILL, outside a
// container that would take its children along), the kernel closes it and the reader exits instead
// of running on as an orphan. PR_SET_PDEATHSIG was tried and had no effect here. A terminal or
// /dev/null as stdin is left alone (`ctnetlink events` by hand works as before).
func syncRequests(pending *syncFlag) {
	st, err := os.Stdin.Stat()
	if err != nil || st.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return
	}
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			f := strings.Fields(in.Text())
			switch {
			case len(f) == 1 && f[0] == "sync":
				pending.set()
			case len(f) == 3 && f[0] == "sync" && f[1] == "at":
				if t, err := strconv.ParseInt(f[2], 10, 64); err == nil {
					if d := time.Until(time.UnixMicro(t)); d > 0 {
						time.AfterFunc(d, pending.set)
					} else {
						pending.set()
					}
				}
			}
		}
		os.Exit(0)
	}()
}
