package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// netCheck configures the first network interface (virtio-net on glue's
// tap) and pings the host on the other end. The host pings back later,
// while hvc0Check waits (netInCheck counts those requests).
func netCheck(r *report, params map[string]string) {
	addr, err := netip.ParsePrefix(paramOr(params, "glue.hw.ip", "192.0.2.2/24"))
	if err != nil || !addr.Addr().Is4() {
		r.fail("net", "glue.hw.ip: want an IPv4 prefix: %v", err)
		return
	}
	peer, err := netip.ParseAddr(paramOr(params, "glue.hw.peer", "192.0.2.1"))
	if err != nil || !peer.Is4() {
		r.fail("net", "glue.hw.peer: want an IPv4 address: %v", err)
		return
	}
	var ifname string
	err = waitFor(10*time.Second, func() error {
		ifname, err = firstInterface()
		return err
	})
	if err != nil {
		r.fail("net", "%v", err)
		return
	}
	mac, _ := os.ReadFile(filepath.Join("/sys/class/net", ifname, "address"))
	if err := configure(ifname, addr); err != nil {
		r.fail("net", "%s: %v", ifname, err)
		return
	}
	const want = 3
	replies, err := ping(peer, want)
	if err != nil {
		r.fail("net", "%s: ping %s: %d of %d replies: %v", ifname, peer, replies, want, err)
		return
	}
	r.pass("net", fmt.Sprintf("if=%s mac=%s addr=%s replies=%d", ifname, strings.TrimSpace(string(mac)), addr, replies))
}

func paramOr(params map[string]string, key, def string) string {
	if v, ok := params[key]; ok {
		return v
	}
	return def
}

// firstInterface returns the first interface by name other than loopback.
func firstInterface() (string, error) {
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range entries {
		if e.Name() != "lo" {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", errors.New("no network interface besides lo")
	}
	slices.Sort(names)
	return names[0], nil
}

// ifreq mirrors struct ifreq (linux/if.h) on 64-bit: the name, then a
// 24-byte union of which these ioctls use a sockaddr_in or the short flags
// (both in host byte order but for the address itself).
type ifreq [40]byte

func newIfreq(name string) *ifreq {
	var r ifreq
	copy(r[:syscall.IFNAMSIZ-1], name)
	return &r
}

func (r *ifreq) setAddr4(ip netip.Addr) {
	clear(r[16:])
	binary.NativeEndian.PutUint16(r[16:], syscall.AF_INET)
	a := ip.As4()
	copy(r[20:24], a[:])
}

// configure gives the interface its address and netmask and brings it up;
// the kernel then adds the route to the connected subnet itself. These are
// the ioctls ifconfig uses: no netlink library needed.
func configure(ifname string, addr netip.Prefix) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	req := newIfreq(ifname)
	req.setAddr4(addr.Addr())
	if err := ioctlIfreq(fd, syscall.SIOCSIFADDR, req); err != nil {
		return fmt.Errorf("SIOCSIFADDR: %w", err)
	}
	mask, _ := netip.AddrFromSlice(net.CIDRMask(addr.Bits(), 32))
	req.setAddr4(mask)
	if err := ioctlIfreq(fd, syscall.SIOCSIFNETMASK, req); err != nil {
		return fmt.Errorf("SIOCSIFNETMASK: %w", err)
	}
	req = newIfreq(ifname)
	if err := ioctlIfreq(fd, syscall.SIOCGIFFLAGS, req); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS: %w", err)
	}
	flags := binary.NativeEndian.Uint16(req[16:]) | syscall.IFF_UP
	binary.NativeEndian.PutUint16(req[16:], flags)
	if err := ioctlIfreq(fd, syscall.SIOCSIFFLAGS, req); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS: %w", err)
	}
	return nil
}

// ping sends ICMP echo requests until want replies came back or ten
// requests went unanswered (the first may wait for ARP).
func ping(peer netip.Addr, want int) (int, error) {
	conn, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	const id = 0x6c75 // "lu"
	dst := &net.IPAddr{IP: peer.AsSlice()}
	replies := 0
	var lastErr error
	for seq := 1; replies < want && seq <= want+10; seq++ {
		if _, err := conn.WriteTo(echoRequest(id, seq), dst); err != nil {
			return replies, err
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if lastErr = awaitReply(conn, id, seq); lastErr == nil {
			replies++
		}
	}
	if replies < want {
		return replies, lastErr
	}
	return replies, nil
}

func awaitReply(conn net.PacketConn, id, seq int) error {
	buf := make([]byte, 1500)
	for {
		n, _, err := conn.ReadFrom(buf) // the IPv4 header is already stripped
		if err != nil {
			return err
		}
		m := buf[:n]
		if len(m) >= 8 && m[0] == 0 && m[1] == 0 && // echo reply
			int(binary.BigEndian.Uint16(m[4:])) == id && int(binary.BigEndian.Uint16(m[6:])) == seq {
			return nil
		}
	}
}

// echoRequest is an ICMP echo request (RFC 792) with a 16-byte payload.
func echoRequest(id, seq int) []byte {
	m := make([]byte, 8, 24)
	m[0] = 8 // echo request
	binary.BigEndian.PutUint16(m[4:], uint16(id))
	binary.BigEndian.PutUint16(m[6:], uint16(seq))
	m = append(m, "glue-hwkvm-ping!"...)
	binary.BigEndian.PutUint16(m[2:], checksum(m))
	return m
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// echoRequestsReceived is the kernel's count of ICMP echo requests it
// received (Icmp InEchos in /proc/net/snmp): the host's pings, which the
// kernel answers without init's help.
func echoRequestsReceived() (int, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "Icmp: ")
		if !ok {
			continue
		}
		// The first Icmp line names the columns, the second holds values.
		if names == nil {
			names = strings.Fields(rest)
			continue
		}
		values := strings.Fields(rest)
		if i := slices.Index(names, "InEchos"); i >= 0 && i < len(values) {
			return strconv.Atoi(values[i])
		}
	}
	return 0, errors.New("no Icmp InEchos in /proc/net/snmp")
}

// waitFor retries f until it succeeds or the timeout passes: a driver
// registers its device during the module's load, but the node in /dev and
// a device's first data can lag behind.
func waitFor(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
