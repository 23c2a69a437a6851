package scenario

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Report is what init printed: details by check, its failures, and
// whether it got to GLUE-DONE; and the host's own lines about the VM
// (GLUE-OK outer, GLUE-FAIL outer: cgroup.go).
type Report struct {
	Checks map[string]string
	Fails  []string
	Done   bool
	// Outer are the host's checks' details by check, OuterFails its
	// failures.
	Outer      map[string]string
	OuterFails []string
}

// ParseReport reads init's GLUE-OK, GLUE-FAIL and GLUE-DONE lines and the
// host's GLUE-OK outer and GLUE-FAIL outer ones.
func ParseReport(out string) Report {
	r := Report{Checks: map[string]string{}, Outer: map[string]string{}}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if rest, ok := strings.CutPrefix(line, "GLUE-FAIL init "); ok {
			r.Fails = append(r.Fails, rest)
		}
		if rest, ok := strings.CutPrefix(line, "GLUE-OK init "); ok {
			check, details, _ := strings.Cut(rest, " ")
			r.Checks[check] = details
		}
		if rest, ok := strings.CutPrefix(line, "GLUE-FAIL outer "); ok {
			r.OuterFails = append(r.OuterFails, rest)
		}
		if rest, ok := strings.CutPrefix(line, "GLUE-OK outer "); ok {
			check, details, _ := strings.Cut(rest, " ")
			r.Outer[check] = details
		}
		r.Done = r.Done || strings.HasPrefix(line, "GLUE-DONE init ")
	}
	return r
}

// Field returns the value of key=value in a check's details.
func (r Report) Field(check, key string) string { return field(r.Checks[check], key) }

// field returns the value of key=value in details.
func field(details, key string) string {
	for _, f := range strings.Fields(details) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// rtcSlack is how far the guest's clock may be from the host's: minutes,
// since this checks the RTC model, not timing.
const rtcSlack = 10 * time.Minute

// powerDownLine is what Linux prints as it powers the machine off.
const powerDownLine = "reboot: Power down"

// Verify returns what is wrong with r as a run of s in env; nil when it
// passed.
func Verify(s Scenario, env Env, r Result) []string {
	var errs []string
	if r.Stalled {
		errs = append(errs, fmt.Sprintf("stalled: a boot did not end within %v", s.BootDeadline(env)))
	}
	errs = append(errs, r.Problems...)
	steps := s.Boots()
	outputs := SplitBoots(r.Output)
	acked := 0
	for i, step := range steps {
		if i >= len(r.Boots) || i >= len(outputs) {
			errs = append(errs, fmt.Sprintf("boot %d of %d did not run", i+1, len(steps)))
			break
		}
		v := verifier{s: s, env: env, r: r, step: step, b: r.Boots[i], out: outputs[i], acked: acked}
		if len(steps) > 1 {
			v.prefix = fmt.Sprintf("boot %d (%s): ", i+1, strings.Join(step.Checks, ","))
		}
		errs = append(errs, v.verify()...)
		if v.b.Killed {
			acked = v.b.Acked
		}
	}
	return errs
}

// SplitBoots cuts a Result's Output into its boots' outputs at the
// BootMarker lines; output without one is a single boot's.
func SplitBoots(out string) []string {
	var boots []string
	cur := -1
	for _, line := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(line, BootMarker) {
			boots = append(boots, "")
			cur++
			continue
		}
		if cur < 0 {
			boots, cur = append(boots, ""), 0
		}
		boots[cur] += line
	}
	return boots
}

// verifier checks one boot of a scenario.
type verifier struct {
	s      Scenario
	env    Env
	r      Result
	step   Step
	b      Boot
	out    string
	acked  int // the fsyncs acknowledged before an earlier boot's kill
	prefix string
	errs   []string
}

func (v *verifier) fail(format string, args ...any) {
	v.errs = append(v.errs, v.prefix+fmt.Sprintf(format, args...))
}

func (v *verifier) verify() []string {
	s, step, b := v.s, v.step, v.b
	switch {
	case b.Halted:
		v.fail("Linux halted and glue did not end the VM (init ends it with %s)", step.End)
	case b.Killed:
		// The kill comes as line KillAfter arrives, which may be cut
		// short; the lines before it were acknowledged.
		if b.Acked < step.KillAfter-1 {
			v.fail("killed after %d acknowledged fsyncs, want %d", b.Acked, step.KillAfter-1)
		}
	case !v.r.Stalled && b.Exit != 0:
		v.fail("glue exit %d, want 0 (init ends the VM with %s)", b.Exit, step.End)
	}
	rep := ParseReport(v.out)
	for _, f := range rep.Fails {
		v.fail("init: %s", f)
	}
	for _, f := range rep.OuterFails {
		v.fail("host: %s", f)
	}
	if s.Jail {
		v.cgroup(rep)
	}
	if !rep.Done && !b.Killed {
		v.fail("init did not finish (no GLUE-DONE)")
	}
	for _, line := range strings.Split(v.out, "\n") {
		if strings.Contains(line, "Kernel panic") {
			v.fail("the kernel panicked: %s", strings.TrimSpace(line))
		}
	}
	if step.Fsck && b.Fsck != 0 {
		v.fail("e2fsck -n -f: exit %d, want 0 (clean):\n%s", b.Fsck, b.FsckOutput)
	}
	if step.ReadOnly && b.ImageBefore != b.ImageAfter {
		v.fail("the read-only disk changed: SHA-256 %s before the boot, %s after", b.ImageBefore, b.ImageAfter)
	}
	if !rep.Done && !b.Killed {
		return v.errs // the checks below would only repeat that
	}
	v.basic(rep)
	for _, c := range step.Checks {
		v.device(rep, c)
	}
	if s.PayloadMiB > 0 {
		v.want(rep, "payload", "bytes", strconv.Itoa(s.PayloadMiB<<20))
		v.want(rep, "payload", "sha256", v.r.PayloadSHA256)
	}
	if step.End == "poweroff" || step.End == "button" {
		if !strings.Contains(v.out, powerDownLine) {
			v.fail("no %q: Linux did not power off through ACPI", powerDownLine)
		}
	}
	if step.End == "button" && !strings.Contains(v.out, "GLUE-BUTTON power") {
		v.fail("init saw no power button press (GLUE-BUTTON power)")
	}
	return v.errs
}

func (v *verifier) want(rep Report, check, key, value string) {
	if _, ok := rep.Checks[check]; !ok {
		v.fail("no GLUE-OK for %s", check)
	} else if got := rep.Field(check, key); got != value {
		v.fail("%s: %s=%q, want %q (%s)", check, key, got, value, rep.Checks[check])
	}
}

func (v *verifier) number(rep Report, check, key string) int64 {
	n, err := strconv.ParseInt(rep.Field(check, key), 10, 64)
	if err != nil {
		v.fail("%s: %s: %v (%q)", check, key, err, rep.Checks[check])
	}
	return n
}

// basic checks what every boot shows: pid 1, the mounts, the command
// line, the entry path, CPUs, memory, the clock, modules and devices.
func (v *verifier) basic(rep Report) {
	s, env := v.s, v.env
	v.want(rep, "pid1", "pid", "1")
	if got := rep.Checks["mounts"]; got != "proc,sysfs,devtmpfs" {
		v.fail("mounts: %q, want proc,sysfs,devtmpfs", got)
	}
	v.want(rep, "cmdline", "token", env.Token)
	if got, wantBoot := rep.Checks["boot"], s.WantBoot(env); got != wantBoot {
		v.fail("boot_params: %q, want %q", got, wantBoot)
	}
	v.want(rep, "cpus", "n", strconv.Itoa(s.CPUs))
	// The kernel keeps some memory for itself; MemTotal is the rest, and
	// more than half of a small VM.
	if kib := v.number(rep, "mem", "total-kib"); kib <= int64(s.MemMiB)*1024/2 || kib > int64(s.MemMiB)*1024 {
		v.fail("MemTotal %d KiB for a %d MiB VM", kib, s.MemMiB)
	}
	if skew := v.r.End.Sub(time.Unix(v.number(rep, "rtc", "since-epoch"), 0)); skew.Abs() > rtcSlack {
		v.fail("guest RTC is %v off the host's clock", skew)
	}
	v.want(rep, "modules", "loaded", strings.Join(env.Modules, ","))
	v.want(rep, "virtio", "devices", strconv.Itoa(s.Virtio))
}

// device checks what init's device check c reported against what the
// host knows.
func (v *verifier) device(rep Report, c string) {
	switch c {
	case "rng":
		if cur := rep.Field("rng", "current"); !strings.HasPrefix(cur, "virtio_rng") {
			v.fail("rng: rng_current %q, want virtio_rng (%s)", cur, rep.Checks["rng"])
		}
		v.want(rep, "rng", "bytes", "32")
	case "hvc0":
		if got := rep.Checks["hvc0"]; got != "echo="+hostLine {
			v.fail("hvc0: %q, want the line typed on glue's stdin, %q", got, hostLine)
		}
		if !strings.Contains(v.out, "GLUE-HVC0 hello from hvc0") {
			v.fail("hvc0: init's line on hvc0 did not reach glue's stdout")
		}
	case "net":
		v.want(rep, "net", "replies", "3")
	case "intx":
		v.want(rep, "intx", "msi", "0")
		if v.number(rep, "intx", "fired") < 1 {
			v.fail("intx: no virtio interrupt through the IOAPIC fired (%s)", rep.Checks["intx"])
		}
	case "tcp":
		n := v.r.Net
		if n == nil {
			v.fail("tcp: the host's side did not run")
			return
		}
		if n.Err != "" {
			v.fail("tcp: host: %s", n.Err)
		}
		v.want(rep, "tcp", "received", strconv.Itoa(TCPMiB<<20))
		v.want(rep, "tcp", "sent", strconv.Itoa(TCPUpKiB<<10))
		v.want(rep, "tcp", "received-sha256", n.SentSHA)
		v.want(rep, "tcp", "sent-sha256", n.ReceivedSHA)
		if n.Sent != TCPMiB<<20 || n.Received != TCPUpKiB<<10 {
			v.fail("tcp: host sent %d and received %d bytes, want %d and %d", n.Sent, n.Received, TCPMiB<<20, TCPUpKiB<<10)
		}
	case "vsock":
		v.vsock(rep)
	case "balloon":
		v.balloon(rep)
	case "fsync":
		if !strings.Contains(v.out, "write_cache=write-back") {
			v.fail("fsync: init did not start its loop on a write-back disk")
		}
	case "rootrw", "rootro":
		if c == "rootrw" {
			v.want(rep, c, "token", v.env.Token)
		}
		if recs := v.number(rep, c, "records"); recs < int64(v.acked) {
			v.fail("%s: %d fsync records on the disk, but %d were acknowledged before the kill", c, recs, v.acked)
		}
		if c == "rootro" {
			v.want(rep, c, "ro", "1")
			v.want(rep, c, "written", v.env.Token)
		}
	default:
		if _, ok := rep.Checks[c]; !ok {
			v.fail("no GLUE-OK for %s", c)
		}
	}
}

// vsock checks init's vsock check against the host's side: the CID glue
// gave the guest, the guest's stream byte for byte, and the echo, whose
// peer Linux saw must be the host port glue's OK line named.
func (v *verifier) vsock(rep Report) {
	v.want(rep, "vsock", "cid", strconv.Itoa(VsockCID))
	v.want(rep, "vsock", "sent", strconv.Itoa(VsockUpKiB<<10))
	v.want(rep, "vsock", "echoed", strconv.Itoa(VsockEchoKiB<<10))
	h := v.r.Vsock
	if h == nil {
		v.fail("vsock: the host's side did not run")
		return
	}
	if h.Err != "" {
		v.fail("vsock: host: %s", h.Err)
	}
	if h.FromGuest != VsockUpKiB<<10 || h.Mismatch >= 0 {
		v.fail("vsock: the host received %d bytes from the guest, want %d of init's stream (first difference at %d)",
			h.FromGuest, VsockUpKiB<<10, h.Mismatch)
	}
	if h.Echoed != VsockEchoKiB<<10 {
		v.fail("vsock: %d bytes came back from the guest's echo as sent, want %d", h.Echoed, VsockEchoKiB<<10)
	}
	if h.HostPort < vsockHostPorts {
		v.fail("vsock: glue's OK line named host port %d, want one from %d", h.HostPort, vsockHostPorts)
	}
	v.want(rep, "vsock", "peer", fmt.Sprintf("2:%d", h.HostPort))
}

// balloon checks that Linux's driver followed the target both ways, with
// Linux's MemTotal as the oracle, and that its statistics report agrees.
func (v *verifier) balloon(rep Report) {
	base, low, back := v.number(rep, "balloon", "base-kib"), v.number(rep, "balloon", "low-kib"), v.number(rep, "balloon", "back-kib")
	if base-low != BalloonMiB<<10 || back != base {
		v.fail("balloon: MemTotal %d KiB, %d KiB inflated, %d KiB deflated; want %d KiB less, then all back",
			base, low, back, BalloonMiB<<10)
	}
	h := v.r.Balloon
	if h == nil {
		v.fail("balloon: the host's side did not run")
		return
	}
	if h.Err != "" {
		v.fail("balloon: host: %s", h.Err)
	}
	if !h.Inflated || !h.Deflated {
		v.fail("balloon: actual reached the target: %v, came back to 0: %v", h.Inflated, h.Deflated)
	}
	if got := h.Stats["total-memory"]; got != uint64(low)<<10 {
		v.fail("balloon: the guest's total-memory statistic after the inflate is %d bytes, want MemTotal %d KiB", got, low)
	}
	if h.InflatedBytes < BalloonMiB<<20 || h.DeflatedBytes < BalloonMiB<<20 {
		v.fail("balloon: glue saw %d bytes inflated and %d deflated, want %d each", h.InflatedBytes, h.DeflatedBytes, BalloonMiB<<20)
	}
}

// jailMinMemory is less than the jailed VM must have been charged for:
// glue writes the kernel's loaded segments into guest RAM itself, 57 MiB
// of them for Debian's 6.1 vmlinux.
const jailMinMemory = 32 << 20

// cgroup checks what the host read of a jailed VM's cgroup: only the
// jailed glue in it, the limits the VM's size asks for, the VM's memory
// and tasks counted there, and the cgroup gone once glue exited.
func (v *verifier) cgroup(rep Report) {
	d, ok := rep.Outer["cgroup"]
	if !ok {
		if len(rep.OuterFails) == 0 {
			v.fail("cgroup: the host did not report on the jail's cgroup (no GLUE-OK outer cgroup)")
		}
		return
	}
	if procs, jailed := field(d, "procs"), field(d, "jailed"); procs != jailed {
		v.fail("cgroup: cgroup.procs holds processes %q, want the jailed glue alone, PID %s (%s)", procs, jailed, d)
	}
	if kt := field(d, "kthreads"); kt != "" {
		for _, k := range strings.Split(kt, ",") {
			if _, name, _ := strings.Cut(k, ":"); !strings.HasPrefix(name, "kvm") {
				v.fail("cgroup: kernel thread %s in the jail's cgroup is not KVM's (%s)", k, d)
			}
		}
	}
	memory, cpu, pids := v.s.WantCgroup()
	for _, w := range []struct{ file, want string }{{"memory.max", memory}, {"cpu.max", cpu}, {"pids.max", pids}} {
		if got := field(d, w.file); got != w.want {
			v.fail("cgroup: %s is %q, want %q (%s)", w.file, got, w.want, d)
		}
	}
	// Guest RAM is charged to the cgroup of the process that touched it;
	// every vCPU is a thread, and so is glue's main one.
	mem, _ := strconv.ParseInt(field(d, "memory.current"), 10, 64)
	tasks, _ := strconv.Atoi(field(d, "pids.current"))
	if mem < jailMinMemory || tasks < v.s.CPUs+1 {
		v.fail("cgroup: memory.current %d bytes, pids.current %d; want at least %d MiB and the %d vCPUs' threads and one more (%s)",
			mem, tasks, jailMinMemory>>20, v.s.CPUs, d)
	}
	if got := field(d, "removed"); got != "yes" {
		v.fail("cgroup: %s was still there after glue exited (removed=%s)", field(d, "dir"), got)
	}
}
