package perf

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
)

var (
	netRuns = flag.Int("net-runs", 2, "network runs per VMM and round, and of the host's own-address ping")
	pings   = flag.Int("pings", 20, "timed pings per network run")
)

// The tap's host side and the guest, in TEST-NET-1 (192.0.2.0/24) and in a
// namespace of the benchmark's own, so nothing reaches the host's network.
const (
	tapName = "tap0"
	hostIP  = "192.0.2.1"
	guestIP = "192.0.2.2"
)

// BenchmarkNetwork times ICMP echo round trips from the host through a tap
// to the guest's virtio-net device and back: ping's time for each reply.
// The VMMs take turns on the same tap, in a network namespace made for the
// benchmark. For scale, the host also pings its own address there.
func BenchmarkNetwork(b *testing.B) {
	glue, qemu := vmms(b)
	hosttest.Root(b, "the network benchmark creates a network namespace and a tap")
	hosttest.LookPath(b, "ip")
	hosttest.LookPath(b, "ping")
	ns := newNetns(b)
	k := *pings
	// The guest answers one ping more than are timed: the first, untimed,
	// also has the host resolve the guest's MAC address (ARP).
	cmdline := guestCmdline(fmt.Sprintf("net glue.ip=%s glue.net.pings=%d glue.net.timeout=60", guestIP, k+1))
	rtt := newRounds(*nRounds)
	order := warmUp(b, vmmOrder(glue, qemu))
	for r := range *nRounds {
		runs := map[string]int{}
		interleaveRound(r, *netRuns, order, func(r int, v vmm) {
			// The other VMM's guest had another MAC address.
			ns.run(b, "ip", "neigh", "flush", "dev", tapName)
			var ms sample
			var pingErr error
			_, err := bootWith(v, cmdline, bootOpts{dev: devices{tap: tapName}, netns: string(ns), onLine: func(l line) {
				if strings.HasPrefix(l.text, "GLUE-READY net ") {
					if _, pingErr = ns.ping(guestIP, 1); pingErr == nil {
						ms, pingErr = ns.ping(guestIP, k)
					}
				}
			}}, 2*time.Minute)
			if err = errors.Join(err, pingErr); err == nil && ms == nil {
				err = fmt.Errorf("%s: no GLUE-READY net line", v.name)
			}
			if err != nil {
				b.Fatal(err)
			}
			rtt[r][v.name] = append(rtt[r][v.name], ms...)
			runs[v.name]++
			b.Logf("%s round %d run %d: median %.3f ms (%.3f–%.3f) over %d pings", v.name, r+1, runs[v.name], ms.median(), ms.min(), ms.max(), k)
		})
		for run := range *netRuns {
			ms, err := ns.ping(hostIP, k)
			if err != nil {
				b.Fatal(err)
			}
			rtt[r][hostName] = append(rtt[r][hostName], ms...)
			b.Logf("host (own address) round %d run %d: median %.3f ms (%.3f–%.3f)", r+1, run+1, ms.median(), ms.min(), ms.max())
		}
	}
	rtt.pooled().report(b, "rtt-ms", "rtt-ratio")
	record(row{"ping round trip host → guest, each reply (ms)", "%.3f", rtt, atMostQEMU})
	setup(fmt.Sprintf("network: %d runs per VMM of %d pings 0.2 s apart (after one untimed), guest `%s`; host: ping of its own address, as often",
		*netRuns, k, cmdline))
}

// netns is a network namespace holding one tap, tapName, whose host side
// is hostIP/24; it is deleted when the benchmark ends.
type netns string

func newNetns(b *testing.B) netns {
	b.Helper()
	ns := netns(fmt.Sprintf("glue-perf-%d", os.Getpid()))
	if out, err := exec.Command("ip", "netns", "add", string(ns)).CombinedOutput(); err != nil {
		b.Fatalf("ip netns add: %v: %s", err, out)
	}
	b.Cleanup(func() { exec.Command("ip", "netns", "del", string(ns)).Run() })
	ns.run(b, "ip", "link", "set", "lo", "up")
	ns.run(b, "ip", "tuntap", "add", "dev", tapName, "mode", "tap")
	ns.run(b, "ip", "addr", "add", hostIP+"/24", "dev", tapName)
	ns.run(b, "ip", "link", "set", tapName, "up")
	return ns
}

func (ns netns) run(b *testing.B, args ...string) {
	b.Helper()
	if out, err := ns.command(args...).CombinedOutput(); err != nil {
		b.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (ns netns) command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", string(ns)}, args...)...)
}

// ping sends n echo requests 0.2 s apart, far longer than a round trip, so
// that each one finds the path idle, and returns each reply's time.
func (ns netns) ping(addr string, n int) (sample, error) {
	out, err := ns.command("ping", "-n", "-c", fmt.Sprint(n), "-i", "0.2", "-W", "5", addr).CombinedOutput()
	ms := pingTimes(string(out))
	if err == nil && len(ms) != n {
		err = fmt.Errorf("%d replies", len(ms))
	}
	if err != nil {
		return nil, fmt.Errorf("ping -c %d %s: %v\n%s", n, addr, err, out)
	}
	return ms, nil
}

// pingTimes returns the round-trip time of each reply in ping's output
// ("64 bytes from 192.0.2.2: icmp_seq=1 ttl=64 time=0.512 ms"), in ms.
func pingTimes(out string) sample {
	var ms sample
	for l := range strings.Lines(out) {
		if _, t, ok := strings.Cut(l, " time="); ok {
			if x, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(t), " ms"), 64); err == nil {
				ms = append(ms, x)
			}
		}
	}
	return ms
}
