package tap_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/test/hosttest"
)

// enterNetns moves the test's goroutine, locked to its OS thread, into a
// new network namespace. The thread is never unlocked: when the test's
// goroutine ends, the runtime discards the thread instead of letting it run
// other goroutines inside the namespace. Everything that touches the
// network (opening the tap, sockets, sysctls) must then happen on this
// goroutine, never in one it starts or in a subtest; the host's namespace
// is never touched.
func enterNetns(t *testing.T) {
	t.Helper()
	hosttest.Root(t, "creates a network namespace and a tap in it")
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		hosttest.Skip(t, hosttest.ReasonNetns, fmt.Sprintf("no tun device: %v", err))
	}
	runtime.LockOSThread()
	before := netnsID(t)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		hosttest.Skip(t, hosttest.ReasonNetns, fmt.Sprintf("cannot create a network namespace: %v", err))
	}
	if netnsID(t) == before {
		t.Fatal("unshare succeeded but the thread is still in its old network namespace")
	}
}

// netnsID names the calling thread's network namespace.
func netnsID(t *testing.T) string {
	t.Helper()
	id, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// inetSocket is a socket for interface ioctls, in the thread's namespace.
func inetSocket(t *testing.T) int {
	t.Helper()
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(s) })
	return s
}

func linkUp(t *testing.T, name string) {
	t.Helper()
	s := inetSocket(t)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		t.Fatalf("SIOCGIFFLAGS %s: %v", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		t.Fatalf("SIOCSIFFLAGS %s: %v", name, err)
	}
}

// quietIPv6 stops the kernel from sending its own IPv6 frames (router
// solicitations, MLD, DAD) through the tap once it is up. Tests filter
// frames by payload anyway; this keeps the queue empty for ErrWouldBlock.
func quietIPv6(t *testing.T, name string) {
	t.Helper()
	err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) { // no IPv6 at all is fine
		t.Fatal(err)
	}
}

// packetSocket is a raw AF_PACKET socket bound to the interface: frames
// sent on it leave through the interface (and reach the tap's reader);
// frames written to the tap arrive on it.
func packetSocket(t *testing.T, name string) int {
	t.Helper()
	s := inetSocket(t)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFINDEX, ifr); err != nil {
		t.Fatalf("SIOCGIFINDEX %s: %v", name, err)
	}
	proto := htons(unix.ETH_P_ALL)
	p, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p) })
	if err := unix.Bind(p, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: int(ifr.Uint32())}); err != nil {
		t.Fatal(err)
	}
	// A bound for the receive loops below, not an assertion on timing.
	tv := unix.NsecToTimeval(int64(time.Second))
	if err := unix.SetsockoptTimeval(p, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return p
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// waitReadable polls fd; the limit only guards against a hang.
func waitReadable(t *testing.T, fd int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 100)
		if err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatal("fd never became readable")
}
