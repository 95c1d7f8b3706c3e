package main

import (
	"bufio"
	"fmt"
	"hash/maphash"
	"os"
	"strconv"
	"strings"
	"time"
)

// seen is what the diff keeps per conntrack id: 16 bytes instead of an entry.
type seen struct {
	fp  uint64
	gen uint32
}

// session is `ctnetlink serve`: the table is dumped on request and diffed here, against the
// previous dump, so that ctflow parses and handles only entries that changed. Most entries of a big
// table do not change between two polls; they are never printed.
type session struct {
	fd    int
	state map[uint32]seen
	gen   uint32
	seq   uint32
	hash  maphash.Hash
	out   *bufio.Writer
	line  []byte
	buf   []byte
}

// serve reads commands from stdin, one per line, until stdin closes:
//
//	forget ID...   drop these ids from the diff (their next dump line is printed in full)
//	dump           dump the table; print new and changed entries (P lines, stamped with their receive
//	               time), the ids gone since the last dump (G lines, up to 1024 ids each), then
//	               "E entries printed gone"
//	dump full      the same after dropping the whole diff: every entry is printed, none is gone
//	dump [full] at T   either, at wall-clock time T (µs since the epoch; at once if T has passed)
//
// "at": ctflow sends the command ahead of the poll's due time, so the dump starts on time here even
// when ctflow's event loop is busy then (entries are stamped with this process's receive time, so a
// late poll made a flow's end, timed by the dump that first shows its last counters, late).
//
// A failed dump prints "X reason" instead of the E line and drops the diff (the next dump prints
// every entry). Fields are separated by tabs.
func serve() {
	fd, err := openSocket(0)
	if err != nil {
		fail("%v", err)
	}
	s := &session{
		fd:    fd,
		state: make(map[uint32]seen),
		out:   bufio.NewWriterSize(os.Stdout, 1<<16),
		line:  make([]byte, 0, 512),
		buf:   make([]byte, 1<<18),
	}
	s.hash.SetSeed(maphash.MakeSeed())
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<16), 64<<20)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) == 0:
		case f[0] == "forget":
			for _, x := range f[1:] {
				if id, err := strconv.ParseUint(x, 10, 32); err == nil {
					delete(s.state, uint32(id))
				}
			}
		case f[0] == "dump":
			full, at, ok := parseDump(f[1:])
			if !ok {
				fmt.Fprintf(s.out, "X\tunknown command %q\n", in.Text())
				s.out.Flush()
				continue
			}
			sleepUntil(at)
			if full {
				clear(s.state)
			}
			s.dump()
		default:
			fmt.Fprintf(s.out, "X\tunknown command %q\n", in.Text())
			s.out.Flush()
		}
	}
	if err := in.Err(); err != nil {
		fail("stdin: %v", err)
	}
}

// parseDump reads the arguments of a dump command: [full] [at T].
func parseDump(args []string) (full bool, atUs int64, ok bool) {
	if len(args) > 0 && args[0] == "full" {
		full, args = true, args[1:]
	}
	switch {
	case len(args) == 0:
		return full, 0, true
	case len(args) == 2 && args[0] == "at":
		t, err := strconv.ParseInt(args[1], 10, 64)
		return full, t, err == nil && t >= 0
	}
	return false, 0, false
}

// sleepUntil waits until wall-clock time atUs (µs since the epoch); 0 or a past time: no wait.
func sleepUntil(atUs int64) {
	if d := time.Until(time.UnixMicro(atUs)); atUs > 0 && d > 0 {
		time.Sleep(d)
	}
}

func (s *session) dump() {
	s.gen++
	s.seq++
	entries, printed := 0, 0
	err := requestDump(s.fd, s.seq)
	if err == nil {
		err = readDump(s.fd, s.buf, s.seq, func(family byte, body []byte, recvUs int64) {
			id := entryID(body)
			if id < 0 {
				return
			}
			entries++
			fp := fingerprint(&s.hash, family, body)
			k := uint32(id)
			if prev, ok := s.state[k]; ok && prev.fp == fp {
				s.state[k] = seen{fp, s.gen}
				return
			}
			s.state[k] = seen{fp, s.gen}
			e := decodeEntry(family, body)
			// Stamped when the kernel handed the entry over, not when ctflow reads the line.
			s.line = appendLine(s.line[:0], 'P', recvUs, &e)
			_, _ = s.out.Write(s.line)
			printed++
		}, func() {
			if s.out.Buffered() > 0 {
				s.out.Flush()
			}
		})
	}
	if err != nil {
		// Entries after the failure were not seen: without a complete dump nothing can be judged gone.
		clear(s.state)
		fmt.Fprintf(s.out, "X\t%v\n", err)
		s.out.Flush()
		return
	}
	gone := 0
	for k, v := range s.state {
		if v.gen == s.gen {
			continue
		}
		delete(s.state, k)
		if gone%1024 == 0 {
			if gone > 0 {
				_ = s.out.WriteByte('\n')
			}
			_ = s.out.WriteByte('G')
		}
		_ = s.out.WriteByte('\t')
		s.line = strconv.AppendUint(s.line[:0], uint64(k), 10)
		_, _ = s.out.Write(s.line)
		gone++
	}
	if gone > 0 {
		_ = s.out.WriteByte('\n')
	}
	fmt.Fprintf(s.out, "E\t%d\t%d\t%d\n", entries, printed, gone)
	s.out.Flush()
}
