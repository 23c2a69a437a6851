package integration

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
)

// diskImage makes a sparse raw image of mib MiB.
func diskImage(t *testing.T, mib int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(mib << 20); err != nil {
		t.Fatal(err)
	}
	return path
}

// sectorZero is the first 512 bytes of the image.
func sectorZero(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 512)
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	return buf
}

func fileSHA256(t *testing.T, path string) [32]byte {
	t.Helper()
	return sha256.Sum256([]byte(readFile(t, path)))
}

func TestDevicesEntropy(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	res := runGlue(t, nil, "run", "--rng", "-m", "64", "-p", "glue.test=virtio,rng")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	m := markers(t, res.stdout)
	if field(m["virtio"], "ids") != "4" || field(m["rng"], "bytes") != "64" {
		t.Fatalf("virtio=%q rng=%q", m["virtio"], m["rng"])
	}
}

// The guest writes, flushes and reads back; its marker is in the host file
// once glue has exited.
func TestDevicesBlock(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	img := diskImage(t, 64)
	res := runGlue(t, nil, "run", "-d", img, "-m", "64", "-p", "glue.test=blk glue.blk.marker=c0ffee")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	blk := markers(t, res.stdout)["blk"]
	if field(blk, "flushed") != "1" || field(blk, "capacity") != "131072" || field(blk, "verified") == "0" {
		t.Fatalf("blk: %q", blk)
	}
	if !bytes.HasPrefix(sectorZero(t, img), []byte("c0ffee\n")) {
		t.Fatalf("marker not in the image: % x", sectorZero(t, img)[:16])
	}
}

// What the guest wrote is in the host file while the VM still runs, after
// a kill -9 and after an orderly stop. This is visibility through the
// page cache, not durability: a killed process loses no page cache.
// Durability is TestDevicesBlockFlushSyncs' (and blk's unit tests').
func TestDevicesBlockWritesReachImage(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	for _, end := range []string{"kill -9", "stop"} {
		t.Run(end, func(t *testing.T) {
			t.Parallel()
			img := diskImage(t, 16)
			dir := vmDir(t)
			s := startGlue(t, "--runtime-dir", dir, "run", "-n", "disk", "-d", img, "-m", "64",
				"-p", "glue.test=blk,counter glue.blk.marker=beef")
			s.waitFor("GLUE-OK blk ", time.Minute)
			if !bytes.HasPrefix(sectorZero(t, img), []byte("beef\n")) {
				t.Fatal("written marker not in the image while the VM runs")
			}
			if end == "stop" {
				glueIn(t, dir, "stop", "-n", "disk")
				if code := s.wait(time.Minute); code != 0 {
					t.Fatalf("exit %d after stop", code)
				}
			} else {
				s.cmd.Process.Signal(syscall.SIGKILL)
				s.wait(time.Minute)
			}
			if !bytes.HasPrefix(sectorZero(t, img), []byte("beef\n")) {
				t.Fatalf("marker lost after %s", end)
			}
		})
	}
}

// The guest's FLUSH reaches fdatasync on the image's descriptor, and its
// status carries the sync's result: traced with strace, once as it is and
// once with strace making the first fdatasync fail with EIO, which the
// guest must then see as the FLUSH's IOERR (so the sync happened before
// the status was written, and was the guest's FLUSH's). A disk that
// skipped the sync would pass the guest's check with the error injected.
func TestDevicesBlockFlushSyncs(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	strace := hosttest.LookPath(t, "strace")
	for _, tc := range []struct {
		name, inject string
		wantFail     bool
	}{
		{"sync succeeds", "", false},
		{"sync fails", "fdatasync:error=EIO:when=1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img := diskImage(t, 16)
			trace := filepath.Join(t.TempDir(), "strace.log")
			args := []string{"-f", "--seccomp-bpf", "-qq", "-y", "-e", "signal=none", "-e", "trace=fdatasync,fsync", "-o", trace}
			if tc.inject != "" {
				args = append(args, "-e", "inject="+tc.inject)
			}
			args = append(args, glueBin, "run", "-d", img, "-m", "64", "-p", "glue.test=blk glue.blk.marker=beef")
			res := runBinary(t, strace, nil, args...)
			if res.code != 0 {
				t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
			}
			syncs := imageSyncs(t, readFile(t, trace), img)
			if len(syncs) == 0 {
				t.Fatalf("no fdatasync on %s:\n%s", img, readFile(t, trace))
			}
			guest := blkLine(res.stdout)
			if !tc.wantFail {
				if !strings.HasPrefix(guest, "GLUE-OK blk ") || field(guest, "flushed") != "1" {
					t.Fatalf("guest: %q", guest)
				}
				return
			}
			if !strings.Contains(syncs[0], "(INJECTED)") {
				t.Fatalf("the first fdatasync on the image was not the injected failure: %s", syncs[0])
			}
			// The writes passed (wrote=10), the FLUSH failed, so nothing
			// was read back.
			if want := "GLUE-FAIL blk wrote=10 verified=0: request failed (status 1)"; guest != want {
				t.Fatalf("guest: %q, want %q: the injected sync failure did not reach the FLUSH's status", guest, want)
			}
		})
	}
}

// imageSyncs returns the lines of an strace -y log that fsync or fdatasync
// the image at path.
func imageSyncs(t *testing.T, log, path string) []string {
	t.Helper()
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	var syncs []string
	for _, line := range strings.Split(log, "\n") {
		if (strings.Contains(line, "fdatasync(") || strings.Contains(line, "fsync(")) && strings.Contains(line, "<"+real+">") {
			syncs = append(syncs, line)
		}
	}
	return syncs
}

// blkLine is the guest's GLUE-OK or GLUE-FAIL line of its blk test.
func blkLine(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "GLUE-OK blk ") || strings.HasPrefix(line, "GLUE-FAIL blk ") {
			return strings.TrimRight(line, "\r")
		}
	}
	return ""
}

func TestDevicesBlockReadOnly(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	img := diskImage(t, 8)
	before := fileSHA256(t, img)
	res := runGlue(t, nil, "run", "--disk", "path="+img+",ro=on", "-m", "64", "-p", "glue.test=blk glue.blk.ro=1")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	blk := markers(t, res.stdout)["blk"]
	// status 1 (IOERR), as the virtio spec asks and QEMU answers.
	if field(blk, "ro") != "1" || field(blk, "write-rejected") != "1" || field(blk, "status") != "1" || field(blk, "feature-ro") != "1" {
		t.Fatalf("blk: %q", blk)
	}
	if fileSHA256(t, img) != before {
		t.Fatal("read-only image changed")
	}
}

// A read-write image is locked: a second VM on it fails before it starts.
func TestDevicesBlockLockedImage(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	img := diskImage(t, 8)
	dir := vmDir(t)
	detach(t, dir, "-n", "owner", "-d", img, "-m", "32", "-p", "glue.test=counter")
	res := runGlue(t, nil, "--runtime-dir", dir, "run", "-d", img, "-m", "32", "-p", "glue.test=cmdline")
	if res.code == 0 || !strings.Contains(res.stderr, "--disk") || !strings.Contains(res.stderr, "in use") {
		t.Fatalf("second VM on a locked image: exit %d, stderr %q", res.code, res.stderr)
	}
	if strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 {
		t.Errorf("error is not one line: %q", res.stderr)
	}
}

// netns is a network namespace made for one test, deleted at its end. The
// guest's addresses come from 192.0.2.0/24 (TEST-NET-1), never the host's.
type netns string

func newNetns(t *testing.T) netns {
	t.Helper()
	hosttest.Root(t, "network tests create a network namespace")
	hosttest.LookPath(t, "ip")
	hosttest.LookPath(t, "ping")
	ns := netns(fmt.Sprintf("glue-test-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6))
	if out, err := exec.Command("ip", "netns", "add", string(ns)).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", string(ns)).Run() })
	ns.run(t, "ip", "link", "set", "lo", "up")
	return ns
}

func (ns netns) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", string(ns)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tap creates a tap in the namespace with the host side's address.
func (ns netns) tap(t *testing.T, name, cidr string) {
	t.Helper()
	ns.run(t, "ip", "tuntap", "add", "dev", name, "mode", "tap")
	ns.run(t, "ip", "addr", "add", cidr, "dev", name)
	ns.run(t, "ip", "link", "set", name, "up")
}

// The host pings the guest through a tap in a namespace made by the test.
func TestDevicesNetworkPing(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	ns := newNetns(t)
	ns.tap(t, "tap0", "192.0.2.1/24")
	s := startProcess(t, "ip", "netns", "exec", string(ns), glueBin, "run", "--net", "tap=tap0", "-m", "64",
		"-p", "glue.test=net glue.ip=192.0.2.2 glue.net.pings=3")
	s.waitFor("GLUE-READY net", time.Minute)
	ns.run(t, "ping", "-c", "3", "-W", "10", "192.0.2.2")
	s.waitFor("GLUE-OK net ", time.Minute)
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if echo := field(markers(t, s.output())["net"], "echo"); echo != "3" {
		t.Fatalf("guest answered %s echo requests, want 3", echo)
	}
}

// --console virtio: the guest's hvc0 output reaches stdout and stdin reaches
// hvc0.
func TestDevicesVirtioConsole(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	s := startGlue(t, "run", "--console", "virtio", "-m", "64", "-p", "glue.test=console")
	s.waitFor("GLUE-READY console", time.Minute)
	fmt.Fprint(s.stdin, "typed on the host\r")
	s.waitFor(" echo=typed on the host", time.Minute)
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(s.output(), "GLUE-CONSOLE hello from hvc0") {
		t.Fatal("hvc0 output did not reach stdout")
	}
}

// Several disks and networks on one VM, with entropy.
func TestDevicesCombined(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	ns := newNetns(t)
	ns.tap(t, "tap0", "192.0.2.1/24")
	ns.tap(t, "tap1", "169.254.7.1/24")
	a, b := diskImage(t, 8), diskImage(t, 16)
	s := startProcess(t, "ip", "netns", "exec", string(ns), glueBin, "run", "-m", "64",
		"-d", a, "--disk", "path="+b, "--net", "tap=tap0", "--net", "tap=tap1,mac=02:00:00:00:00:02", "--rng",
		"-p", "glue.test=virtio,blk,rng")
	if code := s.wait(2 * time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	out := s.output()
	if v := markers(t, out)["virtio"]; field(v, "devices") != "5" {
		t.Fatalf("virtio: %q", v)
	}
	if n := strings.Count(out, "GLUE-OK blk dev="); n != 2 {
		t.Fatalf("%d disks reported, want 2:\n%s", n, out)
	}
}
