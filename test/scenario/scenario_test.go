package scenario

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testEnv = Env{Token: "c0ffee", Modules: []string{"virtio_mmio"}, SetupVersion: "0x020f", Deadline: time.Minute}

// initOutput is what init prints for s when everything is right.
func initOutput(s Scenario, end time.Time, payloadSHA string) string {
	lines := []string{
		"glue: VM name vm-1",
		"GLUE-OK init mounts proc,sysfs,devtmpfs",
		"GLUE-OK init pid1 pid=1",
		"GLUE-OK init cmdline token=" + testEnv.Token,
		"GLUE-OK init boot " + s.WantBoot(testEnv),
		fmt.Sprintf("GLUE-OK init cpus online=0-%d n=%d", s.CPUs-1, s.CPUs),
		fmt.Sprintf("GLUE-OK init mem total-kib=%d", s.MemMiB*1024*8/10),
		fmt.Sprintf("GLUE-OK init rtc since-epoch=%d driver=rtc_cmos", end.Unix()-20),
		"GLUE-OK init modules loaded=virtio_mmio",
		"GLUE-OK init virtio devices=0 ids=",
	}
	if s.PayloadMiB > 0 {
		lines = append(lines, fmt.Sprintf("GLUE-OK init payload bytes=%d sha256=%s", s.PayloadMiB<<20, payloadSHA))
	}
	last := "[ 17.4] reboot: Restarting system"
	if s.End == "poweroff" {
		last = "[ 17.4] reboot: Power down"
	}
	return strings.Join(append(lines, "GLUE-DONE init ok=9 failed=0", last), "\r\n") + "\r\n"
}

// Each case breaks one thing a scenario checks and names the complaint
// Verify must make; "" means it must pass.
func TestVerify(t *testing.T) {
	t.Parallel()
	end := time.Unix(1_796_286_184, 0)
	sha := strings.Repeat("ab", 32)
	large, _ := Lookup("bzimage-entry-2cpu-large-initrd")
	poweroff, _ := Lookup("vmlinux-pvh-4cpu-poweroff")
	good := func(s Scenario) Result {
		return Result{Exit: 0, Boots: []Boot{{Fsck: -1}}, End: end, PayloadSHA256: sha, Output: initOutput(s, end, sha)}
	}
	edit := func(s Scenario, f func(*Result)) Result { r := good(s); f(&r); return r }
	replace := func(s Scenario, old, new string) Result {
		return edit(s, func(r *Result) { r.Output = strings.Replace(r.Output, old, new, 1) })
	}
	tests := []verifyCase{
		{"all right", large, good(large), ""},
		{"glue failed", large, edit(large, func(r *Result) { r.Boots[0].Exit = 1 }), "glue exit 1"},
		{"glue did not run", large, edit(large, func(r *Result) { r.Boots = nil }), "boot 1 of 1 did not run"},
		{"stalled", large, edit(large, func(r *Result) { r.Stalled, r.Boots[0].Exit = true, -1 }), "stalled"},
		{"a control step failed", large, edit(large, func(r *Result) { r.Problems = []string{"console advanced while paused"} }),
			"console advanced while paused"},
		{"init failed a check", large, replace(large, "GLUE-OK init rtc", "GLUE-FAIL init rtc no clock\r\nGLUE-OK init rtc"), "init: rtc no clock"},
		{"init did not finish", large, replace(large, "GLUE-DONE", "GLUE-NOT-DONE"), "no GLUE-DONE"},
		{"panic", large, replace(large, "GLUE-DONE", "Kernel panic - not syncing: VFS\r\nGLUE-DONE"), "the kernel panicked"},
		{"init not pid 1", large, replace(large, "pid=1", "pid=7"), `pid1: pid="7"`},
		{"a mount missing", large, replace(large, "mounts proc,sysfs,devtmpfs", "mounts proc,sysfs"), "mounts"},
		{"a virtio device appeared", large, replace(large, "devices=0", "devices=1"), "virtio: devices"},
		{"wrong token", large, replace(large, "token="+testEnv.Token, "token=other"), `cmdline: token="other"`},
		{"zero page without the bzImage's header", large, replace(large, "version=0x020f", "version=0x0000"), "boot_params"},
		{"PVH entered through the zero page", poweroff, replace(poweroff, "loader=0xb0", "loader=0xff"), "boot_params"},
		{"wrong CPU count", large, replace(large, "n=2", "n=1"), `cpus: n="1", want "2"`},
		{"too little memory", large, replace(large, "total-kib=", "total-kib=1"), "MemTotal"},
		{"clock off", large, replace(large, "since-epoch=", "since-epoch=1"), "RTC"},
		{"module missing", large, replace(large, "loaded=virtio_mmio", "loaded="), "modules: loaded"},
		{"payload cut short", large, replace(large, "bytes=", "bytes=1"), "payload: bytes"},
		{"payload changed", large, edit(large, func(r *Result) { r.PayloadSHA256 = "00" }), "payload: sha256"},
		{"halted instead of reset", large, edit(large, func(r *Result) { r.Boots[0].Halted, r.Boots[0].Exit = true, -1 }), "Linux halted"},
		{"halted instead of powered off", poweroff, edit(poweroff, func(r *Result) { r.Boots[0].Halted, r.Boots[0].Exit = true, -1 }),
			"Linux halted"},
		{"power-off that fails", poweroff, edit(poweroff, func(r *Result) { r.Boots[0].Exit = 1 }), "glue exit 1"},
		{"power-off that is a reset", poweroff, replace(poweroff, "reboot: Power down", "reboot: Restarting system"), "did not power off"},
		{"power-off that ends glue", poweroff, good(poweroff), ""},
	}
	checkVerify(t, tests)
}

// The payload archive follows the base archive at a 4-byte boundary and
// holds PayloadFile with the counter content whose digest is returned.
func TestWritePayloadInitrd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := filepath.Join(dir, "base.cpio")
	baseData := []byte("first archive, 31 bytes long...")
	if err := os.WriteFile(base, baseData, 0o644); err != nil {
		t.Fatal(err)
	}
	const size = 1 << 16
	out, digest, err := WritePayloadInitrd(base, filepath.Join(dir, "out.cpio"), size)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:len(baseData)]) != string(baseData) || b[len(baseData)] != 0 {
		t.Fatalf("archive does not start with the base archive and its padding: %q", b[:40])
	}
	second := b[32:] // 31 bytes, padded to 32
	const nameOff, sizeField = 110, 6 + 6*8
	if string(second[:6]) != "070701" || string(second[nameOff:nameOff+len(PayloadFile)]) != PayloadFile {
		t.Fatalf("no newc entry for %s at offset 32: %q", PayloadFile, second[:nameOff+8])
	}
	if n, _ := strconv.ParseUint(string(second[sizeField:sizeField+8]), 16, 32); n != size {
		t.Fatalf("file size field %d, want %d", n, size)
	}
	dataOff := (nameOff + len(PayloadFile) + 1 + 3) &^ 3
	data := second[dataOff : dataOff+size]
	for off := 0; off < size; off += 8 {
		if v := binary.LittleEndian.Uint64(data[off:]); v != uint64(off) {
			t.Fatalf("payload at %d is %d, want its offset", off, v)
		}
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != digest {
		t.Errorf("digest %s is not the payload's", digest)
	}
}

// Every scenario is runnable: a unique name, CPUs and memory, a known
// way of ending for each boot, Control only with ticks to watch, and
// root-disk steps that only a scenario of several boots has.
func TestTable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, s := range All {
		if seen[s.Name] || s.Name == "" || strings.ContainsAny(s.Name, " ,/|") {
			t.Errorf("%q: empty, repeated, or not usable as a subtest and marker name", s.Name)
		}
		seen[s.Name] = true
		if s.CPUs < 1 || s.MemMiB < 128 {
			t.Errorf("%s: %d CPUs, %d MiB", s.Name, s.CPUs, s.MemMiB)
		}
		if len(s.Steps) > 0 && (s.End != "" || len(s.Checks) > 0 || s.Control) {
			t.Errorf("%s: Steps with End, Checks or Control, which they replace", s.Name)
		}
		for i, step := range s.Boots() {
			ends := map[string]bool{"reset": !s.Control, "poweroff": !s.Control, "button": !s.Control, "tick": s.Control}
			if !ends[step.End] {
				t.Errorf("%s boot %d: End %q with Control %v", s.Name, i+1, step.End, s.Control)
			}
			if (step.KillAfter > 0) != slices.Contains(step.Checks, "fsync") {
				t.Errorf("%s boot %d: KillAfter %d with checks %v: only the fsync loop is killed, and it must be", s.Name, i+1,
					step.KillAfter, step.Checks)
			}
		}
	}
}

// Each entry path leaves its own boot_params: glue's zero page with the
// bzImage's header, glue's zero page of an ELF file (no header), or the
// ones Linux's PVH code builds.
func TestWantBoot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    Scenario
		want string
	}{
		{Scenario{Name: "extracted"}, "loader=0xff version=0x020f"},
		{Scenario{Name: "bzimage-entry", Entry: []string{"--bzimage-entry"}}, "loader=0xff version=0x020f"},
		{Scenario{Name: "elf", ELF: true}, "loader=0xff version=0x0000"},
		{Scenario{Name: "elf-pvh", ELF: true, Entry: []string{"--boot", "pvh"}}, "loader=0xb0 version=0x020c"},
		{Scenario{Name: "bzimage-pvh", Entry: []string{"--boot", "pvh"}}, "loader=0xb0 version=0x020c"},
	}
	for _, tt := range tests {
		if got := tt.s.WantBoot(testEnv); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.s.Name, got, tt.want)
		}
	}
}

// settle waits for a file to stop growing, and gives up after its limit
// when it never does (a pause that did not pause).
func TestFollowerSettle(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "console")
	if err := os.WriteFile(path, []byte("GLUE-TICK 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &follower{path: path, live: io.Discard}
	if !f.settle(context.Background(), 300*time.Millisecond, 5*time.Second) {
		t.Error("a file that does not grow did not settle")
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for n := 2; ; n++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			out, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			fmt.Fprintf(out, "GLUE-TICK %d\n", n)
			out.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if f.settle(ctx, 300*time.Millisecond, time.Second) {
		t.Error("a file that keeps growing settled")
	}
	if ctx.Err() != nil {
		t.Error("settle gave up only when its context ended, not at its limit")
	}
}

// QEMU gets the comparison's disk as virtio-blk on virtio-mmio with
// buffered host I/O, as glue has it; without a disk it gets no drive.
func TestQEMUArgsDisk(t *testing.T) {
	t.Parallel()
	s := Scenario{CPUs: 1, MemMiB: 256, ELF: true, Entry: []string{"--boot", "pvh"}, End: "tick", Checks: []string{"blkperf"},
		BlkperfMiB: 16}
	env := Env{Vmlinux: "/v", Token: "t"}
	got := strings.Join(s.QEMUArgs(env, "/i", "/tmp/d.raw"), " ")
	if want := " -drive id=d0,file=/tmp/d.raw,format=raw,if=none,cache=writeback -device virtio-blk-device,drive=d0"; !strings.HasSuffix(got, want) {
		t.Errorf("QEMU args %q do not end %q", got, want)
	}
	if !strings.Contains(got, "glue.hw=blkperf glue.hw.blkperf.mib=16") {
		t.Errorf("QEMU args %q lack the scenario's checks", got)
	}
	if got := strings.Join(s.QEMUArgs(env, "/i", ""), " "); strings.Contains(got, "-drive") || strings.Contains(got, "-device") {
		t.Errorf("QEMU args without a disk: %q", got)
	}
	s.Net = true
	got = strings.Join(s.QEMUArgs(env, "/i", ""), " ")
	if want := " -netdev tap,id=n0,ifname=" + NetTap + ",script=no,downscript=no -device virtio-net-device,netdev=n0"; !strings.HasSuffix(got, want) {
		t.Errorf("QEMU args of a Net scenario %q do not end %q", got, want)
	}
}

// docs/testing.md's table of scenarios names exactly the tier's: a row
// whose scenario is not in All would claim a test that never runs.
func TestDocumentedScenarios(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/testing.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `((?:vmlinux|extracted|bzimage)[a-z0-9-]*)` \\|")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		documented = append(documented, m[1])
	}
	var names []string
	for _, s := range All {
		names = append(names, s.Name)
	}
	slices.Sort(documented)
	slices.Sort(names)
	if !slices.Equal(documented, names) {
		t.Errorf("docs/testing.md's scenario rows %v, want All's %v", documented, names)
	}
}

// A boot that glue ended for the guest's triple fault is a crash, which
// the tier retries once; a clean end or a kill is not.
func TestGuestCrashed(t *testing.T) {
	t.Parallel()
	crash := Result{Exit: 1, Output: "GLUE-BOOT 1\nglue: vcpu 1: guest triple fault (KVM_EXIT_SHUTDOWN) at RIP 0xfffffff0\n"}
	if !crash.GuestCrashed() {
		t.Error("a triple fault is not a crash")
	}
	for _, r := range []Result{{Exit: 0, Output: crash.Output}, {Exit: 1, Output: "glue: open /dev/kvm: no such file\n"}, {Exit: -1}} {
		if r.GuestCrashed() {
			t.Errorf("%+v: a crash", r)
		}
	}
}
