// Command go-ipfix-bench encodes the same biflow records as bench/ipfix-encode.ts with the
// vmware/go-ipfix module, the way its ExportingProcess.SendDataRecords does (one data record per
// flow from InfoElementWithValue values, records batched into MTU-sized messages written to a
// bytes.Buffer), minus the socket write. It prints one JSON line with the measured rate.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/vmware/go-ipfix/pkg/entities"
	"github.com/vmware/go-ipfix/pkg/exporter"
	"github.com/vmware/go-ipfix/pkg/registry"
)

// flow holds what ctflow's FlowRecord carries, already parsed (go-ipfix takes net.IP values).
type flow struct {
	src, dst                        net.IP
	srcPort, dstPort                uint16
	startMs, endMs                  uint64
	octets, packets, rOctets, rPkts uint64
	reason                          uint8
	midLife                         bool
	index, conntrackID, mark        uint32
	zone                            uint16
}

const ctflowPEN = 32473

func must(ie *entities.InfoElement, err error) *entities.InfoElement {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return ie
}

// cpuSeconds is this process's CPU time (all threads), user + system.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func main() {
	n := flag.Int("records", 4096, "distinct records (cycled)")
	seconds := flag.Float64("seconds", 2, "measuring time")
	maxMsg := flag.Int("max-message", 1472, "maximum message size (1500-byte MTU, IPv4, UDP)")
	flag.Parse()

	registry.LoadRegistry()
	iana := func(name string) *entities.InfoElement {
		return must(registry.GetInfoElement(name, registry.IANAEnterpriseID))
	}
	rev := func(name string) *entities.InfoElement {
		return must(registry.GetInfoElement(name, registry.IANAReversedEnterpriseID))
	}
	ent := func(name string, id uint16, t entities.IEDataType, l uint16) *entities.InfoElement {
		return entities.NewInfoElement(name, id, t, ctflowPEN, l)
	}
	// The field order of ctflow's IPv4 ports/counters variant (template 258 with enterprise elements).
	ies := []*entities.InfoElement{
		iana("sourceIPv4Address"), iana("destinationIPv4Address"), iana("sourceTransportPort"),
		iana("destinationTransportPort"), iana("protocolIdentifier"), iana("flowStartMilliseconds"),
		iana("flowEndMilliseconds"), iana("octetDeltaCount"), iana("packetDeltaCount"),
		rev("reverseOctetDeltaCount"), rev("reversePacketDeltaCount"), iana("flowEndReason"),
		iana("biflowDirection"),
		ent("ctflowFirstSeenMidLife", 1, entities.Boolean, 1), ent("ctflowRecordIndex", 2, entities.Unsigned32, 4),
		ent("ctflowConntrackId", 3, entities.Unsigned32, 4), ent("ctflowConntrackZone", 4, entities.Unsigned16, 2),
		ent("ctflowConntrackMark", 5, entities.Unsigned32, 4),
	}

	// The same deterministic records as the TypeScript bench (same generator).
	flows := make([]flow, *n)
	seed := uint32(12345)
	next := func() uint32 { seed = seed*1103515245 + 12345; return seed >> 8 }
	for k := range flows {
		a, b := next(), next()
		start := uint64(1795680000000) + uint64(next()%3600000)
		flows[k] = flow{
			src: net.IPv4(10, byte(a>>16), byte(a>>8), byte(a)).To4(), dst: net.IPv4(172, 16, byte(b>>8), byte(b)).To4(),
			srcPort: uint16(32768 + next()%28000), dstPort: []uint16{443, 80, 53, 5432}[k%4],
			startMs: start, endMs: start + uint64(next()%60000),
			octets: uint64(next() % 10000000), packets: uint64(next() % 10000), rOctets: uint64(next() % 100000000),
			rPkts: uint64(next() % 100000), reason: uint8(1 + k%5), midLife: k%17 == 0, index: uint32(k % 100),
			conntrackID: next(), zone: 0, mark: 0,
		}
	}

	encode := func(f *flow) entities.Record {
		elements := []entities.InfoElementWithValue{
			entities.NewIPAddressInfoElement(ies[0], f.src), entities.NewIPAddressInfoElement(ies[1], f.dst),
			entities.NewUnsigned16InfoElement(ies[2], f.srcPort), entities.NewUnsigned16InfoElement(ies[3], f.dstPort),
			entities.NewUnsigned8InfoElement(ies[4], 6),
			entities.NewDateTimeMillisecondsInfoElement(ies[5], f.startMs),
			entities.NewDateTimeMillisecondsInfoElement(ies[6], f.endMs),
			entities.NewUnsigned64InfoElement(ies[7], f.octets), entities.NewUnsigned64InfoElement(ies[8], f.packets),
			entities.NewUnsigned64InfoElement(ies[9], f.rOctets), entities.NewUnsigned64InfoElement(ies[10], f.rPkts),
			entities.NewUnsigned8InfoElement(ies[11], f.reason), entities.NewUnsigned8InfoElement(ies[12], 1),
			entities.NewBoolInfoElement(ies[13], f.midLife), entities.NewUnsigned32InfoElement(ies[14], f.index),
			entities.NewUnsigned32InfoElement(ies[15], f.conntrackID), entities.NewUnsigned16InfoElement(ies[16], f.zone),
			entities.NewUnsigned32InfoElement(ies[17], f.mark),
		}
		return entities.NewDataRecordFromElements(258, elements, false)
	}

	set := entities.NewSet(false)
	buf := bytes.NewBuffer(make([]byte, 0, *maxMsg))
	var seq uint32
	records, bytesOut, messages := 0, 0, 0
	send := func() {
		n, err := exporter.WriteIPFIXMsgToBuffer(set, 7, seq, time.Now(), buf)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		seq += set.GetNumberOfRecords()
		bytesOut += n
		messages++
		buf.Reset()
		set.ResetSet()
	}
	run := func(deadline time.Time) {
		_ = set.PrepareSet(entities.Data, 258)
		length := entities.MsgHeaderLength + entities.SetHeaderLen
		for k := 0; ; k++ {
			if k&1023 == 0 && time.Now().After(deadline) {
				break
			}
			rec := encode(&flows[k%len(flows)])
			rl := rec.GetRecordLength()
			if length+rl > *maxMsg {
				send()
				_ = set.PrepareSet(entities.Data, 258)
				length = entities.MsgHeaderLength + entities.SetHeaderLen
			}
			_ = set.AddRecordV3(rec)
			length += rl
			records++
		}
		if set.GetNumberOfRecords() > 0 {
			send()
		}
	}
	run(time.Now().Add(300 * time.Millisecond)) // warm-up
	// Like the TypeScript bench: best of 5 windows, in records per CPU-second of this process
	// (getrusage user + system, GC included), because the machine is shared.
	best, bestBytes, total := 0.0, 0.0, 0
	window := time.Duration(*seconds * float64(time.Second) / 5)
	for w := 0; w < 5; w++ {
		records, bytesOut, messages = 0, 0, 0
		c0 := cpuSeconds()
		run(time.Now().Add(window))
		cpu := cpuSeconds() - c0
		if r := float64(records) / cpu; r > best {
			best, bestBytes = r, float64(bytesOut)/cpu
		}
		total += records
	}
	out, _ := json.Marshal(map[string]any{
		"encoder": "vmware/go-ipfix v0.12.0", "records": total, "recordsPerSec": best, "bytesPerSec": bestBytes,
	})
	fmt.Println(string(out))
}
