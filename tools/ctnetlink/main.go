// Command ctnetlink reads the kernel conntrack table over ctnetlink (NETLINK_NETFILTER) and prints
// one tab-separated line per entry or event, for ctflow's conntrack source (src/conntrack/parse-netlink-line.ts).
//
//	ctnetlink dump     every entry of the table, then exits
//	ctnetlink events   NEW / UPDATE / DESTROY events until killed, stamped with their receive time (events.go)
//	ctnetlink serve    dumps on request and prints only what changed since the last dump (serve.go)
//
// Why: conntrack-tools prints the kernel start stamp to the ns only in its XML form, which omits ICMP
// fields and status bits and is ~750 bytes per entry; this prints everything the kernel sends, exactly,
// in ~150 bytes. Standard library only (syscall), so `go build` needs no module download.
//
// Line (fields separated by a tab; "-" = absent):
//
//	kind timeUs id zone family proto  osrc odst osport odport otype ocode oid  rsrc rdst rsport rdport rtype rcode rid
//	tcpState status mark  opackets obytes rpackets rbytes  startNs stopNs
//
// kind: P (dump), N (new), U (update), D (destroy). timeUs: receive time from the kernel (events, and
// entries printed by serve), 0 in `ctnetlink dump`.
// A line "!ENOBUFS" means the kernel dropped events (socket buffer overrun); "!DROPPED n" that the
// reader dropped n events itself (its output queue was full: ctflow did not read for a long time);
// "!SYNC timeUs" answers a "sync" line on stdin (events.go).
package main

import (
	"bufio"
	"fmt"
	"os"
)

const (
	netlinkNetfilter = 12
	subsysCtnetlink  = 1
	msgCtNew         = 0
	msgCtGet         = 1
	msgCtDelete      = 2
	nlmFRequest      = 0x1
	nlmFDump         = 0x300
	nlmFCreate       = 0x400
	nlmsgError       = 2
	nlmsgDone        = 3
	nlaFNested       = 0x8000
	nlaTypeMask      = 0x3fff

	// enum ctattr_type (include/uapi/linux/netfilter/nfnetlink_conntrack.h)
	ctaTupleOrig     = 1
	ctaTupleReply    = 2
	ctaStatus        = 3
	ctaProtoinfo     = 4
	ctaMark          = 8
	ctaCountersOrig  = 9
	ctaCountersReply = 10
	ctaID            = 12
	ctaZone          = 18
	ctaTimestamp     = 20

	ctaTupleIP    = 1
	ctaTupleProto = 2
	ctaIPv4Src    = 1
	ctaIPv4Dst    = 2
	ctaIPv6Src    = 3
	ctaIPv6Dst    = 4
	ctaProtoNum   = 1
	ctaProtoSrc   = 2
	ctaProtoDst   = 3
	ctaIcmpID     = 4
	ctaIcmpType   = 5
	ctaIcmpCode   = 6
	ctaIcmp6ID    = 7
	ctaIcmp6Type  = 8
	ctaIcmp6Code  = 9

	ctaProtoinfoTCP      = 1
	ctaProtoinfoTCPState = 1
	ctaCountersPackets   = 1
	ctaCountersBytes     = 2
	ctaTimestampStart    = 1
	ctaTimestampStop     = 2
)

var tcpStates = []string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ctnetlink: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println("ctnetlink 3 (ctflow)")
		return
	}
	if len(os.Args) != 2 {
		fail("usage: ctnetlink dump|events|serve")
	}
	switch os.Args[1] {
	case "dump":
		dumpOnce()
	case "events":
		events()
	case "serve":
		serve()
	default:
		fail("usage: ctnetlink dump|events|serve")
	}
}

// dumpOnce prints every entry of the table (kind P) and exits.
func dumpOnce() {
	fd, err := openSocket(0)
	if err != nil {
		fail("%v", err)
	}
	if err := requestDump(fd, 1); err != nil {
		fail("%v", err)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	line := make([]byte, 0, 512)
	// No time in these lines: ctflow hashes whole `dump` lines to skip unchanged ones.
	err = readDump(fd, make([]byte, 1<<18), 1, func(family byte, body []byte, _ int64) {
		e := decodeEntry(family, body)
		line = appendLine(line[:0], 'P', 0, &e)
		_, _ = w.Write(line)
	}, func() {})
	w.Flush()
	if err != nil {
		fail("%v", err)
	}
}
