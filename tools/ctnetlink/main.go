// Command ctnetlink reads the kernel conntrack table over ctnetlink (NETLINK_NETFILTER) and prints
// one tab-separated line per entry or event, for ctflow's conntrack source (src/conntrack/parse-netlink-line.ts).
//
//	ctnetlink dump     every entry of the table, then exits
//	ctnetlink events   NEW / UPDATE / DESTROY events until killed, stamped with their receive time
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
// kind: P (dump), N (new), U (update), D (destroy). timeUs: receive time (events), 0 for dumps.
// A line "!ENOBUFS" means the kernel dropped events (socket buffer overrun).
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
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

type attr struct {
	typ  uint16
	data []byte
}

func attrs(b []byte) []attr {
	var out []attr
	for len(b) >= 4 {
		l := int(binary.LittleEndian.Uint16(b[0:2]))
		t := binary.LittleEndian.Uint16(b[2:4]) & nlaTypeMask
		if l < 4 || l > len(b) {
			break
		}
		out = append(out, attr{t, b[4:l]})
		a := (l + 3) &^ 3
		if a > len(b) {
			break
		}
		b = b[a:]
	}
	return out
}

type tuple struct {
	src, dst               string
	sport, dport           string
	icmpType, icmpCode, id string
	proto                  string
}

func parseTuple(b []byte) tuple {
	t := tuple{src: "-", dst: "-", sport: "-", dport: "-", icmpType: "-", icmpCode: "-", id: "-", proto: "-"}
	for _, a := range attrs(b) {
		switch a.typ {
		case ctaTupleIP:
			for _, ip := range attrs(a.data) {
				switch ip.typ {
				case ctaIPv4Src, ctaIPv6Src:
					t.src = net.IP(ip.data).String()
				case ctaIPv4Dst, ctaIPv6Dst:
					t.dst = net.IP(ip.data).String()
				}
			}
		case ctaTupleProto:
			for _, p := range attrs(a.data) {
				switch p.typ {
				case ctaProtoNum:
					t.proto = strconv.Itoa(int(p.data[0]))
				case ctaProtoSrc:
					t.sport = strconv.Itoa(int(binary.BigEndian.Uint16(p.data)))
				case ctaProtoDst:
					t.dport = strconv.Itoa(int(binary.BigEndian.Uint16(p.data)))
				case ctaIcmpID, ctaIcmp6ID:
					t.id = strconv.Itoa(int(binary.BigEndian.Uint16(p.data)))
				case ctaIcmpType, ctaIcmp6Type:
					t.icmpType = strconv.Itoa(int(p.data[0]))
				case ctaIcmpCode, ctaIcmp6Code:
					t.icmpCode = strconv.Itoa(int(p.data[0]))
				}
			}
		}
	}
	return t
}

func counters(b []byte) (string, string) {
	pk, by := "-", "-"
	for _, a := range attrs(b) {
		switch a.typ {
		case ctaCountersPackets:
			pk = strconv.FormatUint(binary.BigEndian.Uint64(a.data), 10)
		case ctaCountersBytes:
			by = strconv.FormatUint(binary.BigEndian.Uint64(a.data), 10)
		}
	}
	return pk, by
}

// writeEntry prints one conntrack message (nfgenmsg + attributes) as a line.
func writeEntry(w *bufio.Writer, kind string, timeUs int64, family byte, body []byte) {
	var o, r tuple
	id, zone, status, mark, state := "-", "0", "-", "0", "-"
	opk, oby, rpk, rby, start, stop := "-", "-", "-", "-", "-", "-"
	for _, a := range attrs(body) {
		switch a.typ {
		case ctaTupleOrig:
			o = parseTuple(a.data)
		case ctaTupleReply:
			r = parseTuple(a.data)
		case ctaStatus:
			status = strconv.FormatUint(uint64(binary.BigEndian.Uint32(a.data)), 10)
		case ctaMark:
			mark = strconv.FormatUint(uint64(binary.BigEndian.Uint32(a.data)), 10)
		case ctaID:
			id = strconv.FormatUint(uint64(binary.BigEndian.Uint32(a.data)), 10)
		case ctaZone:
			zone = strconv.Itoa(int(binary.BigEndian.Uint16(a.data)))
		case ctaCountersOrig:
			opk, oby = counters(a.data)
		case ctaCountersReply:
			rpk, rby = counters(a.data)
		case ctaProtoinfo:
			for _, p := range attrs(a.data) {
				if p.typ != ctaProtoinfoTCP {
					continue
				}
				for _, s := range attrs(p.data) {
					if s.typ == ctaProtoinfoTCPState && int(s.data[0]) < len(tcpStates) {
						state = tcpStates[s.data[0]]
					}
				}
			}
		case ctaTimestamp:
			for _, s := range attrs(a.data) {
				switch s.typ {
				case ctaTimestampStart:
					start = strconv.FormatUint(binary.BigEndian.Uint64(s.data), 10)
				case ctaTimestampStop:
					stop = strconv.FormatUint(binary.BigEndian.Uint64(s.data), 10)
				}
			}
		}
	}
	fam := "ipv4"
	if family == syscall.AF_INET6 {
		fam = "ipv6"
	}
	fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		kind, timeUs, id, zone, fam, o.proto,
		o.src, o.dst, o.sport, o.dport, o.icmpType, o.icmpCode, o.id,
		r.src, r.dst, r.sport, r.dport, r.icmpType, r.icmpCode, r.id,
		state, status, mark, opk, oby, rpk, rby, start, stop)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ctnetlink: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println("ctnetlink 1 (ctflow)")
		return
	}
	if len(os.Args) != 2 || (os.Args[1] != "dump" && os.Args[1] != "events") {
		fail("usage: ctnetlink dump|events")
	}
	events := os.Args[1] == "events"
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, netlinkNetfilter)
	if err != nil {
		fail("socket: %v", err)
	}
	sa := &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}
	if events {
		sa.Groups = 1 | 2 | 4 // NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY
	}
	if err := syscall.Bind(fd, sa); err != nil {
		fail("bind: %v (needs CAP_NET_ADMIN for events)", err)
	}
	// A large receive buffer: event bursts and 100,000-entry dumps. FORCE needs CAP_NET_ADMIN.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 8<<20); err != nil {
		_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<20)
	}
	if !events {
		req := make([]byte, 20)
		binary.LittleEndian.PutUint32(req[0:4], 20)
		binary.LittleEndian.PutUint16(req[4:6], subsysCtnetlink<<8|msgCtGet)
		binary.LittleEndian.PutUint16(req[6:8], nlmFRequest|nlmFDump)
		binary.LittleEndian.PutUint32(req[8:12], 1)
		req[16] = syscall.AF_UNSPEC // both families
		if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
			fail("send dump request: %v", err)
		}
	} else {
		fmt.Fprintln(os.Stderr, "ctnetlink: listening")
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	buf := make([]byte, 1<<20)
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err == syscall.ENOBUFS {
			fmt.Fprintln(w, "!ENOBUFS")
			w.Flush()
			continue
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			fail("recv: %v", err)
		}
		now := time.Now().UnixMicro()
		b := buf[:n]
		for len(b) >= 16 {
			l := int(binary.LittleEndian.Uint32(b[0:4]))
			typ := binary.LittleEndian.Uint16(b[4:6])
			flags := binary.LittleEndian.Uint16(b[6:8])
			if l < 16 || l > len(b) {
				break
			}
			msg := b[16:l]
			switch {
			case typ == nlmsgDone:
				w.Flush()
				return
			case typ == nlmsgError:
				code := int32(binary.LittleEndian.Uint32(msg[0:4]))
				if code != 0 {
					w.Flush()
					fail("kernel error: %v", syscall.Errno(-code))
				}
			case typ>>8 == subsysCtnetlink && len(msg) >= 4:
				kind := "P"
				if events {
					switch typ & 0xff {
					case msgCtNew:
						kind = "U"
						if flags&nlmFCreate != 0 {
							kind = "N"
						}
					case msgCtDelete:
						kind = "D"
					}
				}
				t := int64(0)
				if events {
					t = now
				}
				writeEntry(w, kind, t, msg[0], msg[4:])
			}
			b = b[(l+3)&^3:]
		}
		if events {
			w.Flush()
		}
	}
}
