package nested

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/nested/plan"
)

// The table takes medians over the boots that reached GLUE-DONE, rates
// glue against QEMU, and counts stalls and early ends per VMM, naming
// each with its last lines.
func TestCompareReport(t *testing.T) {
	t.Parallel()
	boots := []plan.Boot{
		{VMM: "glue", Round: 1, InitSecs: 10, DoneSecs: 11, CPUSecs: 12, MaxRSSKiB: 100 << 10, BlkWriteMiBs: 4, BlkReadMiBs: 9, TCPInMiBs: 40, TCPOutMiBs: 2},
		{VMM: "glue", Round: 2, InitSecs: 30, DoneSecs: 31, CPUSecs: 32, MaxRSSKiB: 300 << 10, BlkWriteMiBs: 8, BlkReadMiBs: 10, TCPInMiBs: 60, TCPOutMiBs: 4},
		{VMM: "glue", Round: 3, InitSecs: 20, DoneSecs: 21, CPUSecs: 22, MaxRSSKiB: 200 << 10, BlkWriteMiBs: 6, BlkReadMiBs: 11, TCPInMiBs: 50, TCPOutMiBs: 3},
		{VMM: "glue", Round: 4, Stalled: true, InitSecs: 999, BlkWriteMiBs: 999, BlkReadMiBs: 999, Last: []string{"a", "stuck `here`"}},
		{VMM: "glue", Round: 5, Stalled: true, Wedged: true, Last: []string{"watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [glue:114]"}},
		{VMM: "qemu", Round: 1, InitSecs: 5, DoneSecs: 6, CPUSecs: 8, MaxRSSKiB: 400 << 10, BlkWriteMiBs: 2, BlkReadMiBs: 5, TCPInMiBs: 100, TCPOutMiBs: 1},
		{VMM: "qemu", Round: 2, InitSecs: 15, DoneSecs: 16, CPUSecs: 16, MaxRSSKiB: 400 << 10, BlkWriteMiBs: 4, BlkReadMiBs: 5, TCPInMiBs: 100, TCPOutMiBs: 3},
		// Reached GLUE-DONE with a failed blkperf: no disk figures.
		{VMM: "qemu", Round: 4, InitSecs: 10, DoneSecs: 11, CPUSecs: 12, MaxRSSKiB: 400 << 10, Fails: 1,
			FailLines: []string{"GLUE-FAIL init blkperf no virtio disk in /sys/block"}},
		{VMM: "qemu", Round: 3, Exited: true, Fails: 1, Last: []string{"qemu: no BIOS"}},
	}
	got := CompareReport(CompareSetup{At: time.Unix(0, 0), Machine: Machine{CPUs: 2, MemMiB: 2048}, Boots: 4,
		Deadline: 150 * time.Second, Kernel: "6.1.0-57-amd64", QEMUVersion: "QEMU 7.2", Host: "on a test"}, boots)
	for _, want := range []string{
		"**inside an emulated machine**",
		"-smp 2 -m 2048",
		"| boot to init: VMM start → init's first line (s) | 20.0 (10.0–30.0) | 10.0 (5.0–15.0) | 2.00 |",
		"| VMM CPU time, user+system, until GLUE-DONE (s) | 22.00 (12.00–32.00) | 12.00 (8.00–16.00) | 1.83 |",
		"| VMM peak RSS (MiB) | 200.0 (100.0–300.0) | 400.0 (400.0–400.0) | 0.50 |",
		"| disk sequential write: 1 MiB O_DIRECT writes, then fdatasync, timed in the guest (MiB/s) | 6.0 (4.0–8.0) | 3.0 (2.0–4.0) | 2.00 |",
		"| disk sequential read: 1 MiB O_DIRECT reads, timed in the guest (MiB/s) | 10.0 (9.0–11.0) | 5.0 (5.0–5.0) | 2.00 |",
		"| TCP into the guest: 64 MiB from the outer machine through the tap, timed in the guest (MiB/s) | 50.0 (40.0–60.0) | 100.0 (100.0–100.0) | 0.50 |",
		"| TCP out of the guest: 256 KiB to the outer machine, timed in the guest (MiB/s) | 3.0 (2.0–4.0) | 2.0 (1.0–3.0) | 1.50 |",
		"glue `--net tap=gluetap0`, QEMU `-netdev tap,id=n0,ifname=gluetap0,script=no,downscript=no -device virtio-net-device,netdev=n0`",
		"every byte's digest checked on both sides",
		"| stalled: no GLUE-DONE within 2m30s | 2 of 5 | 0 of 4 | |",
		"| of those: the whole outer machine locked up (soft lockups) | 1 of 5 | 0 of 4 | |",
		"| VMM ended before GLUE-DONE | 0 of 5 | 1 of 4 | |",
		"| init reported a failed check | 0 of 5 | 2 of 4 | |",
		"fresh sparse 64 MiB raw image",
		"glue `--transport mmio -d path=IMG`",
		"QEMU `-M microvm,rtc=on,acpi=on -enable-kvm -cpu host`",
		"`-drive id=d0,file=IMG,format=raw,if=none,cache=writeback -device virtio-blk-device,drive=d0`",
		"buffered host I/O",
		"writes the disk's first 32 MiB in 1 MiB O_DIRECT writes, fdatasyncs, and reads them back with O_DIRECT",
		"- glue, round 5: the outer machine locked up; its last lines: `watchdog: BUG: soft lockup",
		"- glue, round 4: stalled; its last lines: `a` `stuck 'here'`",
		"- qemu, round 3: ended early; its last lines: `qemu: no BIOS`",
		"- qemu, round 4: init failed: `GLUE-FAIL init blkperf no virtio disk in /sys/block`",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if empty := CompareReport(CompareSetup{}, nil); !strings.Contains(empty, "| – | – | – |") {
		t.Errorf("a report without boots does not say so:\n%s", empty)
	}
}

// The block replaces what lies between the markers and nothing else; a
// document without them is an error.
func TestRewriteDoc(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "perf.md")
	if err := os.WriteFile(path, []byte("# P\n"+BeginMarker+"\nold\n"+EndMarker+"\nafter\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RewriteDoc(path, "new\n"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "# P\n"+BeginMarker+"\nnew\n"+EndMarker+"\nafter\n" {
		t.Errorf("rewritten:\n%s", got)
	}
	if err := os.WriteFile(path, []byte(EndMarker+BeginMarker), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RewriteDoc(path, "x"); err == nil {
		t.Error("markers in the wrong order: no error")
	}
}

// ldd's lines name libraries by path, with or without "=>"; the vDSO and
// a missing library name no file.
func TestLddLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ line, want string }{
		{"\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f1c2d1e0000)", "/lib/x86_64-linux-gnu/libz.so.1"},
		{"\t/lib64/ld-linux-x86-64.so.2 (0x00007f1c2e8b5000)", "/lib64/ld-linux-x86-64.so.2"},
		{"\tlinux-vdso.so.1 (0x00007ffd5a9f3000)", ""},
		{"\tlibgone.so.2 => not found", ""},
	}
	for _, tt := range tests {
		got := ""
		if m := lddLine.FindStringSubmatch(tt.line); m != nil {
			got = m[1]
		}
		if got != tt.want {
			t.Errorf("%q: %q, want %q", tt.line, got, tt.want)
		}
	}
}
