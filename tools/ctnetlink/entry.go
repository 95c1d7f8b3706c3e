package main

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"strconv"
)

// attrIter walks netlink attributes (struct nlattr, RFC 3549 §2.3.2: 16-bit length, 16-bit type,
// payload padded to 4 bytes) without allocating: the dump path visits ~15 attributes per entry.
type attrIter struct {
	b    []byte
	typ  uint16
	data []byte
}

func (it *attrIter) next() bool {
	if len(it.b) < 4 {
		return false
	}
	l := int(binary.LittleEndian.Uint16(it.b[0:2]))
	if l < 4 || l > len(it.b) {
		return false
	}
	it.typ = binary.LittleEndian.Uint16(it.b[2:4]) & nlaTypeMask
	it.data = it.b[4:l]
	a := (l + 3) &^ 3
	if a > len(it.b) {
		a = len(it.b)
	}
	it.b = it.b[a:]
	return true
}

func be16(b []byte) int {
	if len(b) < 2 {
		return -1
	}
	return int(binary.BigEndian.Uint16(b))
}

func be32(b []byte) int64 {
	if len(b) < 4 {
		return -1
	}
	return int64(binary.BigEndian.Uint32(b))
}

func u8(b []byte) int {
	if len(b) < 1 {
		return -1
	}
	return int(b[0])
}

// tuple is one direction of a conntrack entry; -1 (or nil) = absent.
type tuple struct {
	src, dst               []byte
	sport, dport           int
	icmpType, icmpCode, id int
	proto                  int
}

func parseTuple(b []byte) tuple {
	t := tuple{sport: -1, dport: -1, icmpType: -1, icmpCode: -1, id: -1, proto: -1}
	it := attrIter{b: b}
	for it.next() {
		switch it.typ {
		case ctaTupleIP:
			ip := attrIter{b: it.data}
			for ip.next() {
				switch ip.typ {
				case ctaIPv4Src, ctaIPv6Src:
					t.src = ip.data
				case ctaIPv4Dst, ctaIPv6Dst:
					t.dst = ip.data
				}
			}
		case ctaTupleProto:
			p := attrIter{b: it.data}
			for p.next() {
				switch p.typ {
				case ctaProtoNum:
					t.proto = u8(p.data)
				case ctaProtoSrc:
					t.sport = be16(p.data)
				case ctaProtoDst:
					t.dport = be16(p.data)
				case ctaIcmpID, ctaIcmp6ID:
					t.id = be16(p.data)
				case ctaIcmpType, ctaIcmp6Type:
					t.icmpType = u8(p.data)
				case ctaIcmpCode, ctaIcmp6Code:
					t.icmpCode = u8(p.data)
				}
			}
		}
	}
	return t
}

// entry is one conntrack message decoded; -1 = absent (counters, stamps: has* flags).
type entry struct {
	id, status, mark   int64
	zone, state        int
	orig, reply        tuple
	opk, oby, rpk, rby int64
	start, stop        uint64
	hasStart, hasStop  bool
	family             byte
}

// counters reads packets and bytes of CTA_COUNTERS_*; -1 = absent (64-bit counters stay below 2^63).
func counters(b []byte) (pk, by int64) {
	pk, by = -1, -1
	it := attrIter{b: b}
	for it.next() {
		if len(it.data) < 8 {
			continue
		}
		switch it.typ {
		case ctaCountersPackets:
			pk = int64(binary.BigEndian.Uint64(it.data) &^ (1 << 63))
		case ctaCountersBytes:
			by = int64(binary.BigEndian.Uint64(it.data) &^ (1 << 63))
		}
	}
	return pk, by
}

// decodeEntry decodes a conntrack message body (the attributes after struct nfgenmsg).
func decodeEntry(family byte, body []byte) entry {
	e := entry{id: -1, status: -1, state: -1, opk: -1, oby: -1, rpk: -1, rby: -1, family: family}
	it := attrIter{b: body}
	for it.next() {
		switch it.typ {
		case ctaTupleOrig:
			e.orig = parseTuple(it.data)
		case ctaTupleReply:
			e.reply = parseTuple(it.data)
		case ctaStatus:
			e.status = be32(it.data)
		case ctaMark:
			if m := be32(it.data); m >= 0 {
				e.mark = m
			}
		case ctaID:
			e.id = be32(it.data)
		case ctaZone:
			if z := be16(it.data); z >= 0 {
				e.zone = z
			}
		case ctaCountersOrig:
			e.opk, e.oby = counters(it.data)
		case ctaCountersReply:
			e.rpk, e.rby = counters(it.data)
		case ctaProtoinfo:
			e.state = tcpState(it.data)
		case ctaTimestamp:
			ts := attrIter{b: it.data}
			for ts.next() {
				if len(ts.data) < 8 {
					continue
				}
				switch ts.typ {
				case ctaTimestampStart:
					e.start, e.hasStart = binary.BigEndian.Uint64(ts.data), true
				case ctaTimestampStop:
					e.stop, e.hasStop = binary.BigEndian.Uint64(ts.data), true
				}
			}
		}
	}
	return e
}

// tcpState is the TCP state byte inside CTA_PROTOINFO, or -1.
func tcpState(b []byte) int {
	p := attrIter{b: b}
	for p.next() {
		if p.typ != ctaProtoinfoTCP {
			continue
		}
		s := attrIter{b: p.data}
		for s.next() {
			if s.typ == ctaProtoinfoTCPState {
				return u8(s.data)
			}
		}
	}
	return -1
}

// entryID reads CTA_ID alone (the map key of the diff), or -1.
func entryID(body []byte) int64 {
	it := attrIter{b: body}
	for it.next() {
		if it.typ == ctaID {
			return be32(it.data)
		}
	}
	return -1
}

// fingerprint hashes what ctflow reports about an entry: family, both tuples, status, mark, zone,
// counters, TCP state and the kernel stamps. Left out: CTA_TIMEOUT and CTA_USE (they tick on their
// own), the TCP window/flags of CTA_PROTOINFO, helpers, labels, sequence adjustments. Equal
// fingerprints mean an equal line (chance of a collision per changed entry: 2^-64).
func fingerprint(h *maphash.Hash, family byte, body []byte) uint64 {
	h.Reset()
	_ = h.WriteByte(family)
	it := attrIter{b: body}
	for it.next() {
		switch it.typ {
		case ctaTupleOrig, ctaTupleReply, ctaStatus, ctaMark, ctaZone, ctaCountersOrig, ctaCountersReply, ctaTimestamp:
			_ = h.WriteByte(byte(it.typ))
			_ = h.WriteByte(byte(len(it.data)))
			_, _ = h.Write(it.data)
		case ctaProtoinfo:
			_ = h.WriteByte(byte(it.typ))
			_ = h.WriteByte(byte(tcpState(it.data) + 1))
		}
	}
	return h.Sum64()
}

func appendInt(b []byte, n int64) []byte {
	if n < 0 {
		return append(b, '-')
	}
	return strconv.AppendInt(b, n, 10)
}

func appendAddr(b []byte, ip []byte) []byte {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return append(b, '-')
	}
	// An IPv4-mapped IPv6 address stays IPv6 text (::ffff:a.b.c.d), as conntrack-tools prints it: the
	// line's family is ipv6 (net.IP.String() printed a dotted quad, which no IPv6 parser accepts).
	return a.AppendTo(b)
}

func appendTuple(b []byte, t *tuple) []byte {
	b = appendAddr(b, t.src)
	b = append(b, '\t')
	b = appendAddr(b, t.dst)
	for _, n := range [...]int{t.sport, t.dport, t.icmpType, t.icmpCode, t.id} {
		b = append(b, '\t')
		b = appendInt(b, int64(n))
	}
	return b
}

func appendStamp(b []byte, ok bool, ns uint64) []byte {
	if !ok {
		return append(b, '-')
	}
	return strconv.AppendUint(b, ns, 10)
}

// appendLine appends the line of one entry (format: see main.go) with its newline.
func appendLine(b []byte, kind byte, timeUs int64, e *entry) []byte {
	b = append(b, kind, '\t')
	b = strconv.AppendInt(b, timeUs, 10)
	b = append(b, '\t')
	b = appendInt(b, e.id)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(e.zone), 10)
	if e.family == afInet6 {
		b = append(b, "\tipv6\t"...)
	} else {
		b = append(b, "\tipv4\t"...)
	}
	b = appendInt(b, int64(e.orig.proto))
	b = append(b, '\t')
	b = appendTuple(b, &e.orig)
	b = append(b, '\t')
	b = appendTuple(b, &e.reply)
	b = append(b, '\t')
	if e.state >= 0 && e.state < len(tcpStates) {
		b = append(b, tcpStates[e.state]...)
	} else {
		b = append(b, '-')
	}
	b = append(b, '\t')
	b = appendInt(b, e.status)
	b = append(b, '\t')
	b = strconv.AppendInt(b, e.mark, 10)
	b = append(b, '\t')
	for _, n := range [...]int64{e.opk, e.oby, e.rpk, e.rby} {
		b = appendInt(b, n)
		b = append(b, '\t')
	}
	b = appendStamp(b, e.hasStart, e.start)
	b = append(b, '\t')
	b = appendStamp(b, e.hasStop, e.stop)
	return append(b, '\n')
}
