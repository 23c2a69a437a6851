package scenario

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// bootOutput is what init prints in one boot of s when everything is
// right: the basic checks, then extra, then how the boot ended.
func bootOutput(s Scenario, step Step, end time.Time, extra ...string) string {
	lines := []string{
		"GLUE-OK init mounts proc,sysfs,devtmpfs",
		"GLUE-OK init pid1 pid=1",
		"GLUE-OK init cmdline token=" + testEnv.Token,
		"GLUE-OK init boot " + s.WantBoot(testEnv),
		fmt.Sprintf("GLUE-OK init cpus online=0-%d n=%d", s.CPUs-1, s.CPUs),
		fmt.Sprintf("GLUE-OK init mem total-kib=%d", s.MemMiB*1024*8/10),
		fmt.Sprintf("GLUE-OK init rtc since-epoch=%d driver=rtc_cmos", end.Unix()-20),
		"GLUE-OK init modules loaded=virtio_mmio",
		fmt.Sprintf("GLUE-OK init virtio devices=%d ids=1", s.Virtio),
	}
	lines = append(lines, extra...)
	switch {
	case step.KillAfter > 0:
	case step.End == "reset":
		lines = append(lines, "GLUE-DONE init ok=9 failed=0", "[ 17.4] reboot: Restarting system")
	case step.End == "button":
		lines = append(lines, "GLUE-DONE init ok=9 failed=0", "GLUE-READY init button /dev/input/event0", "GLUE-BUTTON power",
			"[ 17.4] reboot: Power down")
	default:
		lines = append(lines, "GLUE-DONE init ok=9 failed=0", "[ 17.4] reboot: Power down")
	}
	return strings.Join(lines, "\r\n") + "\r\n"
}

// withBoots joins the boots' outputs as Run does, each after its marker.
func withBoots(outputs ...string) string {
	var b strings.Builder
	for i, o := range outputs {
		fmt.Fprintf(&b, "%s%d\n%s", BootMarker, i+1, o)
	}
	return b.String()
}

// Each case breaks one thing a device scenario checks and names the
// complaint Verify must make; "" means it must pass.
func TestVerifyDevices(t *testing.T) {
	t.Parallel()
	end := time.Unix(1_796_286_184, 0)
	devices, _ := Lookup("vmlinux-pci-rng-net-tcp-hvc0")
	disk, _ := Lookup("vmlinux-pci-ext4-root-kill9-fsck-readonly")
	button, _ := Lookup("vmlinux-stop-power-button")
	const sent, received = "5e", "7e"
	goodDevices := func() Result {
		out := bootOutput(devices, devices.Boots()[0], end,
			"GLUE-OK init rng current=virtio_rng.0 bytes=32",
			"GLUE-OK init net if=eth0 mac=02:00:00:00:00:01 addr=192.0.2.2/24 replies=3",
			fmt.Sprintf("GLUE-OK init tcp received=%d received-sha256=%s sent=%d sent-sha256=%s ms=9000", TCPMiB<<20, sent, TCPUpKiB<<10, received),
			"GLUE-HVC0 hello from hvc0", "GLUE-READY init host", "GLUE-OK init hvc0 echo="+hostLine,
			"GLUE-OK init net-in echo-requests=0")
		return Result{Exit: 0, Boots: []Boot{{Fsck: -1}}, End: end, Output: withBoots(out),
			Net: &TCPResult{Sent: TCPMiB << 20, Received: TCPUpKiB << 10, SentSHA: sent, ReceivedSHA: received}}
	}
	goodDisk := func() Result {
		steps := disk.Boots()
		out := withBoots(
			bootOutput(disk, steps[0], end, "GLUE-FSYNC 0 dev=/dev/vda write_cache=write-back", "GLUE-FSYNC 1", "GLUE-FSYNC 16", "GLUE-FSYNC 17"),
			bootOutput(disk, steps[1], end, "GLUE-OK init rootrw dev=/dev/vda token="+testEnv.Token+" records=17 written=1"),
			bootOutput(disk, steps[2], end, "GLUE-OK init rootro dev=/dev/vda ro=1 write=EPERM written="+testEnv.Token+" records=17"))
		return Result{Exit: 0, End: end, Output: out, Boots: []Boot{
			{Exit: -1, Killed: true, Acked: 17, Fsck: -1},
			{Exit: 0, Fsck: 0},
			{Exit: 0, Fsck: 0, ImageBefore: "aa", ImageAfter: "aa"},
		}}
	}
	vs, _ := Lookup("vmlinux-pci-vsock-balloon")
	const base, low = 200000, 200000 - BalloonMiB<<10
	goodVsock := func() Result {
		out := bootOutput(vs, vs.Boots()[0], end,
			fmt.Sprintf("GLUE-OK init vsock cid=3 sent=%d sent-sha256=ab peer=2:1073741824 echoed=%d", VsockUpKiB<<10, VsockEchoKiB<<10),
			fmt.Sprintf("GLUE-OK init balloon base-kib=%d low-kib=%d back-kib=%d", base, low, base))
		return Result{Exit: 0, Boots: []Boot{{Fsck: -1}}, End: end, Output: withBoots(out),
			Vsock: &VsockResult{FromGuest: VsockUpKiB << 10, Mismatch: -1, HostPort: 1 << 30, Echoed: VsockEchoKiB << 10},
			Balloon: &BalloonResult{Inflated: true, Deflated: true, Stats: map[string]uint64{"total-memory": low << 10},
				InflatedBytes: BalloonMiB << 20, DeflatedBytes: BalloonMiB << 20}}
	}
	goodButton := func() Result {
		return Result{Exit: 0, Boots: []Boot{{Fsck: -1}}, End: end, Output: withBoots(bootOutput(button, button.Boots()[0], end))}
	}
	jailed, _ := Lookup("vmlinux-jail-cgroup-rng")
	goodJail := func() Result {
		out := bootOutput(jailed, jailed.Boots()[0], end, "GLUE-OK init rng current=virtio_rng.0 bytes=32",
			"GLUE-READY init hold", "GLUE-OK init hold released")
		out += "GLUE-OK outer cgroup dir=/sys/fs/cgroup/vms/glue-nested-c0ffee jailed=100 procs=100 kthreads=106:kvm-nx-lpage-recovery-103 " +
			"memory.max=536870912 cpu.max=300000,100000 pids.max=1026 memory.current=114548736 pids.current=12 removed=yes\n"
		return Result{Exit: 0, Boots: []Boot{{Fsck: -1}}, End: end, Output: withBoots(out)}
	}
	edit := func(r Result, f func(*Result)) Result { f(&r); return r }
	replace := func(r Result, old, new string) Result {
		if !strings.Contains(r.Output, old) {
			panic("no " + old)
		}
		r.Output = strings.Replace(r.Output, old, new, 1)
		return r
	}
	tests := []verifyCase{
		{"devices all right", devices, goodDevices(), ""},
		{"rng not virtio's", devices, replace(goodDevices(), "current=virtio_rng.0", "current=none"), "rng_current"},
		{"a virtio device missing", devices, replace(goodDevices(), "devices=3", "devices=2"), "virtio: devices"},
		{"a ping lost", devices, replace(goodDevices(), "replies=3", "replies=2"), "net: replies"},
		{"guest received other bytes", devices, replace(goodDevices(), "received-sha256="+sent, "received-sha256=00"), "tcp: received-sha256"},
		{"host received other bytes", devices, edit(goodDevices(), func(r *Result) { r.Net.ReceivedSHA = "00" }), "tcp: sent-sha256"},
		{"transfer cut short", devices, edit(goodDevices(), func(r *Result) { r.Net.Received = 1 }), "host sent"},
		{"host side failed", devices, edit(goodDevices(), func(r *Result) { r.Net.Err = "accept: closed" }), "tcp: host: accept"},
		{"host side missing", devices, edit(goodDevices(), func(r *Result) { r.Net = nil }), "host's side did not run"},
		{"hvc0 line lost", devices, replace(goodDevices(), "echo="+hostLine, "echo="), "hvc0"},
		{"hvc0 output lost", devices, replace(goodDevices(), "GLUE-HVC0 hello from hvc0", ""), "did not reach glue's stdout"},
		{"disk all right", disk, goodDisk(), ""},
		{"killed before the loop got going", disk, edit(goodDisk(), func(r *Result) { r.Boots[0].Acked = 3 }), "killed after 3"},
		{"killed as line 16 came", disk, edit(goodDisk(), func(r *Result) { r.Boots[0].Acked = 15 }), ""},
		{"fsync loop never killed", disk, edit(goodDisk(), func(r *Result) { r.Boots[0].Killed, r.Boots[0].Exit = false, 0 }),
			"no GLUE-DONE"},
		{"no write-back cache", disk, replace(goodDisk(), "write_cache=write-back", "write_cache=write-through"), "write-back"},
		{"acknowledged fsyncs lost", disk, replace(goodDisk(), "records=17 written=1", "records=12 written=1"),
			"rootrw: 12 fsync records on the disk, but 17 were acknowledged"},
		{"fsck unclean", disk, edit(goodDisk(), func(r *Result) { r.Boots[1].Fsck, r.Boots[1].FsckOutput = 4, "Inode 12 ..." }),
			"boot 2 (rootrw): e2fsck -n -f: exit 4"},
		{"fsck did not run", disk, edit(goodDisk(), func(r *Result) { r.Boots[2].Fsck = -1 }), "boot 3 (rootro): e2fsck"},
		{"read-only disk written", disk, edit(goodDisk(), func(r *Result) { r.Boots[2].ImageAfter = "bb" }), "read-only disk changed"},
		{"read-only disk writable", disk, replace(goodDisk(), "ro=1", "ro=0"), "rootro: ro"},
		{"written file lost", disk, replace(goodDisk(), "written="+testEnv.Token, "written=x"), "rootro: written"},
		{"third boot missing", disk, edit(goodDisk(), func(r *Result) { r.Boots = r.Boots[:2] }), "boot 3 of 3 did not run"},
		{"vsock and balloon all right", vs, goodVsock(), ""},
		{"wrong CID", vs, replace(goodVsock(), "cid=3", "cid=4"), `vsock: cid="4"`},
		{"guest's stream changed", vs, edit(goodVsock(), func(r *Result) { r.Vsock.Mismatch = 4096 }), "first difference at 4096"},
		{"guest's stream cut short", vs, edit(goodVsock(), func(r *Result) { r.Vsock.FromGuest = 1 }), "received 1 bytes"},
		{"echo changed", vs, edit(goodVsock(), func(r *Result) { r.Vsock.Echoed = 7 }), "7 bytes came back"},
		{"echo cut short in the guest", vs, replace(goodVsock(), fmt.Sprintf("echoed=%d", VsockEchoKiB<<10), "echoed=3"), "vsock: echoed"},
		{"peer not glue's host port", vs, replace(goodVsock(), "peer=2:1073741824", "peer=2:5"), "vsock: peer"},
		{"vsock host failed", vs, edit(goodVsock(), func(r *Result) { r.Vsock.Err = "echo: CONNECT 5301: answer \"\"" }), "vsock: host: echo"},
		{"vsock host missing", vs, edit(goodVsock(), func(r *Result) { r.Vsock = nil }), "vsock: the host's side did not run"},
		{"balloon did not take memory", vs, replace(goodVsock(), fmt.Sprintf("low-kib=%d", low), "low-kib=199000"), "balloon: MemTotal"},
		{"balloon did not give it back", vs, replace(goodVsock(), fmt.Sprintf("back-kib=%d", base), "back-kib=1"), "balloon: MemTotal"},
		{"actual never reached the target", vs, edit(goodVsock(), func(r *Result) { r.Balloon.Inflated = false }), "actual reached the target: false"},
		{"actual never back to 0", vs, edit(goodVsock(), func(r *Result) { r.Balloon.Deflated = false }), "came back to 0: false"},
		{"no statistics", vs, edit(goodVsock(), func(r *Result) { r.Balloon.Stats = nil }), "total-memory statistic"},
		{"stale statistics", vs, edit(goodVsock(), func(r *Result) { r.Balloon.Stats["total-memory"] = base << 10 }), "total-memory statistic"},
		{"statistics of neither", vs, edit(goodVsock(), func(r *Result) { r.Balloon.Stats["total-memory"] = 12345 }), "total-memory statistic"},
		{"pages not returned to the host", vs, edit(goodVsock(), func(r *Result) { r.Balloon.InflatedBytes = 0 }), "glue saw 0 bytes inflated"},
		{"balloon host failed", vs, edit(goodVsock(), func(r *Result) { r.Balloon.Err = "inflate: deadline" }), "balloon: host: inflate"},
		{"balloon host missing", vs, edit(goodVsock(), func(r *Result) { r.Balloon = nil }), "balloon: the host's side did not run"},
		{"jail all right", jailed, goodJail(), ""},
		{"jail without KVM's thread", jailed, replace(goodJail(), "kthreads=106:kvm-nx-lpage-recovery-103", "kthreads="), ""},
		{"jailed glue not in its cgroup", jailed, replace(goodJail(), "procs=100", "procs="), `cgroup.procs holds processes ""`},
		{"another process in the cgroup", jailed, replace(goodJail(), "procs=100", "procs=99,100"), "want the jailed glue alone"},
		{"another kernel thread in the cgroup", jailed, replace(goodJail(), "kthreads=106:kvm-nx-lpage-recovery-103", "kthreads=7:kworker/0:1"),
			"kernel thread 7:kworker/0:1"},
		{"memory.max not set", jailed, replace(goodJail(), "memory.max=536870912", "memory.max=max"), `memory.max is "max"`},
		{"cpu.max not the vCPUs' and one", jailed, replace(goodJail(), "cpu.max=300000,100000", "cpu.max=200000,100000"), "cpu.max"},
		{"pids.max not set", jailed, replace(goodJail(), "pids.max=1026", "pids.max=max"), "pids.max"},
		{"memory not charged", jailed, replace(goodJail(), "memory.current=114548736", "memory.current=0"), "memory.current 0 bytes"},
		{"tasks not counted", jailed, replace(goodJail(), "pids.current=12", "pids.current=1"), "pids.current 1"},
		{"cgroup left behind", jailed, replace(goodJail(), "removed=yes", "removed=no"), "still there after glue exited"},
		{"cgroup not read", jailed, replace(goodJail(), "GLUE-OK outer cgroup", "GLUE-FAIL outer cgroup no such file"),
			"host: cgroup no such file"},
		{"no word from the host", jailed, replace(goodJail(), "GLUE-OK outer cgroup", "something"), "no GLUE-OK outer cgroup"},
		{"button all right", button, goodButton(), ""},
		{"button never pressed", button, replace(goodButton(), "GLUE-BUTTON power", "GLUE-FAIL init button EOF"), "no power button press"},
		{"button ended in a reset", button, replace(goodButton(), "reboot: Power down", "reboot: Restarting system"), "did not power off"},
		{"glue stop failed", button, edit(goodButton(), func(r *Result) { r.Problems = []string{"glue stop: exit status 1"} }), "glue stop"},
	}
	checkVerify(t, tests)
}

func TestSplitBoots(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, out string
		want      []string
	}{
		{"no marker: one boot", "a\nb\n", []string{"a\nb\n"}},
		{"two boots", BootMarker + "1\na\n" + BootMarker + "2\nb\nc", []string{"a\n", "b\nc"}},
		{"an empty boot", BootMarker + "1\n" + BootMarker + "2\nb\n", []string{"", "b\n"}},
	}
	for _, tt := range tests {
		got := SplitBoots(tt.out)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// verifyCase is a scenario, a result of running it, and what Verify must
// say of it: a complaint containing want, or none if want is "".
type verifyCase struct {
	name string
	s    Scenario
	r    Result
	want string
}

func checkVerify(t *testing.T, tests []verifyCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := Verify(tt.s, testEnv, tt.r)
			if tt.want == "" {
				if len(errs) > 0 {
					t.Errorf("Verify: %q, want no complaint", errs)
				}
				return
			}
			if !strings.Contains(strings.Join(errs, "\n"), tt.want) {
				t.Errorf("Verify: %q, want one saying %q", errs, tt.want)
			}
		})
	}
}
