package perf

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The benchmarks' arithmetic and parsing, checked without KVM.

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   sample
		want float64
	}{
		{"empty", nil, 0},
		{"odd", sample{3, 1, 2}, 2},
		{"even", sample{4, 1, 3, 2}, 2.5},
	} {
		if got := tc.in.median(); got != tc.want {
			t.Errorf("%s: median(%v) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
	if got := (sample{3, 1, 2}).summary("%.0f"); got != "2 (1–3)" {
		t.Errorf("summary = %q", got)
	}
}

func TestGuestRSS(t *testing.T) {
	t.Parallel()
	const smaps = `00400000-0065b000 r-xp 00000000 08:01 1 /glue
Size:               2412 kB
Rss:                2220 kB
7f2a22400000-7f2a42400000 rw-p 00000000 00:00 0
Size:             524288 kB
Rss:                1384 kB
`
	if got := guestRSS([]byte(smaps), 512<<10); got != 1384 {
		t.Errorf("guest RSS = %d KiB, want 1384", got)
	}
	if got := guestRSS([]byte(smaps), 256<<10); got != -1 {
		t.Errorf("no mapping of that size: got %d, want -1", got)
	}
	twice := smaps + strings.SplitN(smaps, "\n", 4)[3]
	if got := guestRSS([]byte(twice), 512<<10); got != -1 {
		t.Errorf("two candidate mappings: got %d, want -1", got)
	}
	if got, err := kib([]byte("VmPeak:\t 1 kB\nVmHWM:\t    7784 kB\n"), "VmHWM:"); err != nil || got != 7784 {
		t.Errorf("kib = %d, %v; want 7784", got, err)
	}
}

func TestRewriteDoc(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "performance.md")
	doc := "# Perf\n\nintro\n" + beginMarker + "\nold table\n" + endMarker + "\n\nafter\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rewriteDoc(path, beginMarker, endMarker, "new table\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# Perf\n\nintro\n" + beginMarker + "\nnew table\n" + endMarker + "\n\nafter\n"
	if string(got) != want {
		t.Errorf("rewritten doc:\n%s\nwant:\n%s", got, want)
	}
	if err := os.WriteFile(path, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rewriteDoc(path, beginMarker, endMarker, "x"); err == nil {
		t.Error("rewriteDoc without markers: no error")
	}
}

func TestProcCPU(t *testing.T) {
	t.Parallel()
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := procCPU(-1); err == nil {
		t.Error("procCPU of no process: no error")
	}
}

func TestPingTimes(t *testing.T) {
	t.Parallel()
	const out = `PING 192.0.2.2 (192.0.2.2) 56(84) bytes of data.
64 bytes from 192.0.2.2: icmp_seq=1 ttl=64 time=1.53 ms
64 bytes from 192.0.2.2: icmp_seq=2 ttl=64 time=0.047 ms
64 bytes from 192.0.2.2: icmp_seq=3 ttl=64 time=112 ms

--- 192.0.2.2 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 402ms
rtt min/avg/max/mdev = 0.047/37.859/112.000/52.472 ms
`
	got := pingTimes(out)
	if want := (sample{1.53, 0.047, 112}); !slices.Equal(got, want) {
		t.Errorf("pingTimes = %v, want %v", got, want)
	}
}

// The host limit reads where the guest does: bench_random in
// guest/src/blk.c on a 256 MiB disk.
func TestGuestRand(t *testing.T) {
	t.Parallel()
	r := newGuestRand(256 << 20)
	for i, want := range []int64{96169984, 40632320, 577536} {
		if got := r.next(); got != want {
			t.Errorf("offset %d = %d, want %d", i, got, want)
		}
	}
}

func TestBlkPhase(t *testing.T) {
	t.Parallel()
	tr := &trace{lines: []line{
		{text: "GLUE-START blk-seq-write mib=64", at: time.Second, cpu: 100 * time.Millisecond},
		{text: "GLUE-OK blk-seq-write mib=64 req=65536 tsc=2445000000", at: 2 * time.Second, cpu: 900 * time.Millisecond},
		{text: "GLUE-START blk-rand-read ops=2000", at: 3 * time.Second},
		{text: "GLUE-OK blk-rand-read ops=2000 tsc=1222500000", at: 3500 * time.Millisecond},
	}}
	p, err := blkPhase(tr, "blk-seq-write")
	want := phase{secs: 1, cpu: 800 * time.Millisecond, tsc: 2445e6, req: 65536, reqs: 1024}
	if err != nil || p != want {
		t.Errorf("seq-write: %+v, %v; want %+v", p, err, want)
	}
	p, err = blkPhase(tr, "blk-rand-read")
	want = phase{secs: 0.5, tsc: 1222.5e6, req: 4096, reqs: 2000}
	if err != nil || p != want {
		t.Errorf("rand-read: %+v, %v; want %+v", p, err, want)
	}
	if _, err := blkPhase(tr, "blk-seq-read"); err == nil {
		t.Error("missing phase: no error")
	}
}

// Without devices the command lines are those of the start-up and exits
// benchmarks; QEMU's microvm needs acpi=off to list virtio devices.
func TestVMMArgs(t *testing.T) {
	t.Parallel()
	q, g := qemuVMM("qemu", "g.elf", mmio), glueVMM("glue", "g.elf", "/r", mmio)
	if got := strings.Join(q.args("x", devices{}), " "); strings.Contains(got, "acpi") || strings.Contains(got, "virtio") {
		t.Errorf("QEMU without devices: %s", got)
	}
	dev := devices{disk: "d.img", tap: "tap0"}
	got := strings.Join(q.args("x", dev), " ")
	for _, want := range []string{"microvm,rtc=on,acpi=off", "force-legacy=false", "file=d.img,format=raw", "ifname=tap0,"} {
		if !strings.Contains(got, want) {
			t.Errorf("QEMU with devices: %s: no %q", got, want)
		}
	}
	if got := strings.Join(g.args("x", dev), " "); !strings.Contains(got, "-d d.img --net tap=tap0 ") {
		t.Errorf("glue with devices: %s", got)
	}
	if got := strings.Join(g.args("x", devices{}), " "); !strings.HasPrefix(got, "run --runtime-dir /r ") {
		t.Errorf("glue's sockets are not in the benchmark's runtime directory: %s", got)
	}
}

func TestParseTimeline(t *testing.T) {
	out := "GLUE-DONE\nboot timeline      ms    +ms  phase\n      0.82   0.82  flags parsed\n     10.66   8.98  map guest memory\n     25.53  12.72  guest marker GLUE-DONE\n"
	got := parseTimeline(out)
	if len(got) != 3 || got["map guest memory"] != 10.66 || got["guest marker GLUE-DONE"] != 25.53 {
		t.Fatalf("parseTimeline = %v", got)
	}
}

func TestBenchmarkCount(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n += len(regexp.MustCompile(`(?m)^func Benchmark\w+\(b \*testing\.B\)`).FindAll(src, -1))
	}
	if n != benchmarks {
		t.Errorf("%d Benchmark functions, but benchmarks = %d", n, benchmarks)
	}
}

// The VMMs' per-VM files go to a tmpfs where the host has one at
// /dev/shm, and to the fallback where it has none.
func TestStateDirOnTmpfs(t *testing.T) {
	t.Parallel()
	fallback := t.TempDir()
	dir, note, err := makeStateDir(fallback)
	if err != nil {
		t.Fatal(err)
	}
	var shm unix.Statfs_t
	if unix.Statfs("/dev/shm", &shm) != nil || shm.Type != unix.TMPFS_MAGIC {
		if dir != fallback || !strings.Contains(note, "no tmpfs") {
			t.Errorf("without a tmpfs at /dev/shm: %q, %q; want the fallback %q, saying why", dir, note, fallback)
		}
		return
	}
	defer os.RemoveAll(dir)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.TMPFS_MAGIC || dir == fallback || !strings.Contains(note, "tmpfs (/dev/shm)") {
		t.Errorf("state dir %q (file system 0x%x), note %q: want a new directory on the tmpfs at /dev/shm", dir, st.Type, note)
	}
}
