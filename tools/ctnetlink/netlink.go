package main

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"time"
)

const afInet6 = syscall.AF_INET6

// openSocket opens a NETLINK_NETFILTER socket subscribed to `groups` (0 for dumps) with a large
// receive buffer: event bursts and 100,000-entry dumps. SO_RCVBUFFORCE needs CAP_NET_ADMIN.
func openSocket(groups uint32) (int, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, netlinkNetfilter)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Groups: groups}); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("bind: %w (needs CAP_NET_ADMIN for events)", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 8<<20); err != nil {
		_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<20)
	}
	return fd, nil
}

// requestDump asks for every entry of the table, both families (IPCTNL_MSG_CT_GET with NLM_F_DUMP).
func requestDump(fd int, seq uint32) error {
	req := make([]byte, 20)
	binary.LittleEndian.PutUint32(req[0:4], 20)
	binary.LittleEndian.PutUint16(req[4:6], subsysCtnetlink<<8|msgCtGet)
	binary.LittleEndian.PutUint16(req[6:8], nlmFRequest|nlmFDump)
	binary.LittleEndian.PutUint32(req[8:12], seq)
	req[16] = syscall.AF_UNSPEC
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return fmt.Errorf("send dump request: %w", err)
	}
	return nil
}

// readDump reads the answer to dump request `seq`: onEntry gets each entry (family, attributes, the
// time its datagram was received in µs), afterBatch runs after each datagram (to flush output while
// the kernel prepares the next one).
// Returns nil at NLMSG_DONE, the kernel's error otherwise.
func readDump(fd int, buf []byte, seq uint32, onEntry func(family byte, body []byte, recvUs int64), afterBatch func()) error {
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("recv: %w", err)
		}
		recvUs := time.Now().UnixMicro()
		b := buf[:n]
		for len(b) >= 16 {
			l := int(binary.LittleEndian.Uint32(b[0:4]))
			typ := binary.LittleEndian.Uint16(b[4:6])
			if l < 16 || l > len(b) {
				break
			}
			msg := b[16:l]
			if binary.LittleEndian.Uint32(b[8:12]) == seq {
				switch {
				case typ == nlmsgDone:
					afterBatch()
					return nil
				case typ == nlmsgError && len(msg) >= 4:
					if code := int32(binary.LittleEndian.Uint32(msg[0:4])); code != 0 {
						return fmt.Errorf("kernel error: %w", syscall.Errno(-code))
					}
				case typ>>8 == subsysCtnetlink && len(msg) >= 4:
					onEntry(msg[0], msg[4:], recvUs)
				}
			}
			a := (l + 3) &^ 3
			if a > len(b) {
				a = len(b)
			}
			b = b[a:]
		}
		afterBatch()
	}
}
