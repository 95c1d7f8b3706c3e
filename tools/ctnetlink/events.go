package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// queueLimit bounds the output not yet written to stdout (~200,000 events): past it, events are
// dropped and counted ("!DROPPED n"), never waited for.
const queueLimit = 32 << 20

// outQueue holds formatted lines between the netlink reader and the stdout writer. The reader must
// never wait for ctflow: a stamp is the time the event was received, and a reader blocked on a full
// stdout pipe receives (and stamps) late. Measured: a socketpair (Node's child stdout) holds only
// ~280 event lines written one by one, so a Node event loop busy for ~0.8 s during a burst of
// connections stopped the reader and every event behind the stall was stamped when Node came back.
type outQueue struct {
	mu      sync.Mutex
	ready   *sync.Cond
	buf     []byte
	dropped uint64
}

// add appends what fill appends, unless the queue is full: then the event is counted as dropped.
func (q *outQueue) add(fill func([]byte) []byte) {
	q.mu.Lock()
	if len(q.buf) >= queueLimit {
		q.dropped++
		q.mu.Unlock()
		return
	}
	if q.dropped > 0 {
		q.buf = append(q.buf, "!DROPPED\t"...)
		q.buf = strconv.AppendUint(q.buf, q.dropped, 10)
		q.buf = append(q.buf, '\n')
		q.dropped = 0
	}
	q.buf = fill(q.buf)
	q.mu.Unlock()
	q.ready.Signal()
}

// writeLoop writes whatever is queued in one write per wake-up (few, large writes: a pipe holds far
// more of them than of single lines), until stdout fails.
func (q *outQueue) writeLoop() {
	var spare []byte
	for {
		q.mu.Lock()
		for len(q.buf) == 0 {
			q.ready.Wait()
		}
		out := q.buf
		q.buf = spare[:0]
		q.mu.Unlock()
		if _, err := os.Stdout.Write(out); err != nil {
			fail("stdout: %v", err)
		}
		if cap(out) <= 1<<20 {
			spare = out
		} else {
			spare = nil
		}
	}
}

// events prints NEW / UPDATE / DESTROY events until killed (or until stdin, a pipe, reaches EOF),
// each stamped with the time its datagram was received from the kernel. One goroutine receives and
// formats, another writes to stdout (outQueue).
func events() {
	// A sync request (lifeline.go) wakes the receive loop through this pipe, so the mark is written
	// at once, not after the next event.
	var wake [2]int
	if err := syscall.Pipe2(wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		fail("pipe: %v", err)
	}
	pending := &syncFlag{wakeFd: wake[1]}
	syncRequests(pending)
	fd, err := openSocket(1 | 2 | 4) // NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY
	if err != nil {
		fail("%v", err)
	}
	q := &outQueue{}
	q.ready = sync.NewCond(&q.mu)
	go q.writeLoop()
	fmt.Fprintln(os.Stderr, "ctnetlink: listening")
	buf := make([]byte, 1<<20)
	scratch := make([]byte, 64)
	for {
		if err := waitReadable(fd, wake[0]); err != nil {
			fail("select: %v", err)
		}
		// Drain the wake pipe first, whatever woke the loop: a byte left in it would keep select
		// returning at once.
		for {
			if _, err := syscall.Read(wake[0], scratch); err != nil {
				break
			}
		}
		if pending.take() {
			// Everything the kernel queued before this instant is in the socket: read it all, then mark.
			syncUs := time.Now().UnixMicro()
			receiveAll(fd, buf, q)
			q.add(func(b []byte) []byte {
				b = append(b, "!SYNC\t"...)
				b = strconv.AppendInt(b, syncUs, 10)
				return append(b, '\n')
			})
			continue
		}
		receiveAll(fd, buf, q)
	}
}

// waitReadable waits until the netlink socket or the wake pipe can be read.
func waitReadable(fd, wakeFd int) error {
	for {
		var set syscall.FdSet
		fdSet(&set, fd)
		fdSet(&set, wakeFd)
		_, err := syscall.Select(max(fd, wakeFd)+1, &set, nil, nil, nil)
		if err != syscall.EINTR {
			return err
		}
	}
}

// fdSet adds fd to set (FD_SET): 1024 bits in 16 words of 64 bits, or 32 of 32 on 32-bit targets.
func fdSet(set *syscall.FdSet, fd int) {
	w := 1024 / len(set.Bits)
	set.Bits[fd/w] |= 1 << (uint(fd) % uint(w))
}

// receiveAll receives every datagram queued on the socket without waiting, stamping each when received.
func receiveAll(fd int, buf []byte, q *outQueue) {
	for {
		n, _, err := syscall.Recvfrom(fd, buf, syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
			return
		case err == syscall.ENOBUFS:
			q.add(func(b []byte) []byte { return append(b, "!ENOBUFS\n"...) })
			continue
		case err == syscall.EINTR:
			continue
		case err != nil:
			fail("recv: %v", err)
		}
		now := time.Now().UnixMicro()
		q.add(func(line []byte) []byte { return appendEvents(line, buf[:n], now) })
	}
}

// appendEvents appends one line per conntrack message of datagram b, each stamped nowUs.
func appendEvents(line []byte, b []byte, nowUs int64) []byte {
	for len(b) >= 16 {
		l := int(binary.LittleEndian.Uint32(b[0:4]))
		typ := binary.LittleEndian.Uint16(b[4:6])
		flags := binary.LittleEndian.Uint16(b[6:8])
		if l < 16 || l > len(b) {
			break
		}
		msg := b[16:l]
		if typ>>8 == subsysCtnetlink && len(msg) >= 4 {
			kind := byte('P')
			switch typ & 0xff {
			case msgCtNew:
				kind = 'U'
				if flags&nlmFCreate != 0 {
					kind = 'N'
				}
			case msgCtDelete:
				kind = 'D'
			}
			e := decodeEntry(msg[0], msg[4:])
			line = appendLine(line, kind, nowUs, &e)
		}
		a := (l + 3) &^ 3
		if a > len(b) {
			a = len(b)
		}
		b = b[a:]
	}
	return line
}
