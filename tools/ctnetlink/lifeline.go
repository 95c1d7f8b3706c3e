package main

import (
	"io"
	"os"
)

// exitWithParent ends the process when stdin is a pipe (or a socket: Node's child-process pipes
// are socket pairs) and reaches EOF. ctflow holds the other end and never writes to it: when ctflow
// dies (even by SIGKILL, outside a container that would take its children along), the kernel closes
// it and the reader exits instead of running on as an orphan. PR_SET_PDEATHSIG was tried and had no
// effect here. A terminal or /dev/null as stdin is left alone (`ctnetlink events` by hand works as
// before).
func exitWithParent() {
	st, err := os.Stdin.Stat()
	if err != nil || st.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
}
