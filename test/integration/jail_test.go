package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
	"github.com/gluevmm/glue/test/procstat"
)

// jailID is the uid and gid jailed VMs drop to: one no host user has, so
// that RLIMIT_NPROC (counted per uid, host-wide) sees only the VM's tasks.
const jailID = "61234"

// jailDir makes a jail directory holding a disk image, and returns both.
func jailDir(t *testing.T) (dir, disk string) {
	t.Helper()
	hosttest.Root(t, "--jail needs root")
	dir = t.TempDir()
	disk = filepath.Join(dir, "disk.img")
	if err := os.WriteFile(disk, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 16<<20); err != nil {
		t.Fatal(err)
	}
	return dir, disk
}

// procField returns the value of key in /proc/PID/status.
func procField(t *testing.T, pid int, key string) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return ""
}

// namespace returns the namespace pid is in, as /proc/PID/ns/KIND names it.
func namespace(t *testing.T, pid, kind string) string {
	t.Helper()
	link, err := os.Readlink(filepath.Join("/proc", pid, "ns", kind))
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// A jailed VM boots the built-in guest with a disk and entropy; `glue list`
// shows the jailed process's host PID; that process has namespaces of its
// own, a root that holds only the jail (a host file next to the jail is
// not reachable through it, the disk is), runs as the dropped uid and gid
// with the seccomp filter on every thread, and `glue stop` ends it, its
// control files gone.
func TestFeaturesJailedVM(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	jail, disk := jailDir(t)
	hostFile := filepath.Join(t.TempDir(), "host-only")
	if err := os.WriteFile(hostFile, []byte("not for the jail\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startGlue(t, "--runtime-dir", dir, "run", "-n", "jailed", "-m", "64",
		"--jail", jail, "--jail-uid", jailID, "--jail-gid", jailID,
		"-d", disk, "--rng", "-p", "glue.test=blk,rng,counter")
	out := s.waitFor("GLUE-COUNT 2", time.Minute)
	m := markers(t, out)
	if field(m["blk"], "verified") != "10" || field(m["rng"], "bytes") != "64" {
		t.Fatalf("blk=%q rng=%q", m["blk"], m["rng"])
	}

	// The PID list shows is the jailed process, the child of the glue
	// that was started, as the host numbers it.
	pid := listJSON(t, dir)["jailed"].PID
	outer := s.cmd.Process.Pid
	if ppid := procField(t, pid, "PPid"); pid == outer || ppid != strconv.Itoa(outer) {
		t.Fatalf("glue list: pid %d (parent %s); want the child of %d", pid, ppid, outer)
	}
	p := strconv.Itoa(pid)
	for _, kind := range []string{"mnt", "pid", "ipc", "uts"} {
		if namespace(t, p, kind) == namespace(t, "self", kind) {
			t.Errorf("the jailed glue shares the host's %s namespace", kind)
		}
	}
	if namespace(t, p, "net") != namespace(t, "self", "net") {
		t.Errorf("without --jail-netns the jailed glue left the host's network namespace")
	}

	// Its root, seen from the host: the jail's top level and the disk are
	// there, the host's file and /etc are not.
	root := filepath.Join("/proc", p, "root")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var top []string
	for _, e := range entries {
		top = append(top, e.Name())
	}
	if !slices.Equal(top, []string{"dev", "proc", "vm"}) {
		t.Errorf("jail root holds %v, want [dev proc vm]", top)
	}
	if _, err := os.Stat(filepath.Join(root, "vm", "disk.img")); err != nil {
		t.Errorf("the disk is not in the jail: %v", err)
	}
	for _, hidden := range []string{hostFile, "/etc/passwd", glueBin} {
		if _, err := os.Stat(filepath.Join(root, hidden)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("host path %s is reachable from the jail (stat: %v)", hidden, err)
		}
	}

	want := strings.Repeat(jailID+" ", 3) + jailID
	if uid, gid := procField(t, pid, "Uid"), procField(t, pid, "Gid"); uid != want || gid != want {
		t.Errorf("jailed glue runs as Uid %q Gid %q, want %q", uid, gid, want)
	}
	if groups := procField(t, pid, "Groups"); groups != "" {
		t.Errorf("jailed glue keeps supplementary groups %q", groups)
	}
	if caps := procField(t, pid, "CapEff"); caps != "0000000000000000" {
		t.Errorf("jailed glue has capabilities %s", caps)
	}
	checkThreads(t, pid, "NoNewPrivs=1 Seccomp=2")
	// The dropped uid is held to RLIMIT_NPROC: its tasks now (only the
	// VM's, in the jail's PID namespace) plus glue's headroom of 1024 and
	// the vCPUs and GOMAXPROCS.
	nproc := limitsOf(t, pid)["Max processes"]
	if n, err := strconv.Atoi(nproc[0]); err != nil || nproc[0] != nproc[1] || n <= 1024 || n > 1024+256 {
		t.Errorf("jailed glue's Max processes %v, want one value a little over 1024 as soft and hard limit", nproc)
	}

	glueIn(t, dir, "stop", "-n", "jailed")
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d after glue stop", code)
	}
	checkNoControlFiles(t, dir, "jailed")
}

// checkNoControlFiles fails if name's socket or lock is left in dir.
func checkNoControlFiles(t *testing.T, dir, name string) {
	t.Helper()
	for _, f := range []string{name + ".sock", name + ".lock"} {
		if _, err := os.Lstat(filepath.Join(dir, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind after the jailed VM ended (lstat: %v)", f, err)
		}
	}
}

// With --jail-netns the jailed VM runs in that network namespace: its tap
// is made there (through the jail's /dev/net/tun), and the host pings
// the guest through it. The guest then ends the VM itself, and the
// control files the jailed process could not reach are removed.
func TestFeaturesJailedVMNetns(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	jail, _ := jailDir(t)
	ns := newNetns(t)
	ns.tap(t, "tap0", "192.0.2.1/24")
	nsPath := filepath.Join("/run/netns", string(ns))
	dir := vmDir(t)
	s := startGlue(t, "--runtime-dir", dir, "run", "-n", "jailnet", "-m", "64", "--jail", jail, "--jail-uid", jailID, "--jail-gid", jailID,
		"--jail-netns", nsPath, "--net", "tap=tap0", "-p", "glue.test=net glue.ip=192.0.2.2 glue.net.pings=3")
	s.waitFor("GLUE-READY net", time.Minute)
	ns.run(t, "ping", "-c", "3", "-W", "10", "192.0.2.2")
	s.waitFor("GLUE-OK net ", time.Minute)
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if echo := field(markers(t, s.output())["net"], "echo"); echo != "3" {
		t.Fatalf("guest answered %s echo requests, want 3", echo)
	}
	checkNoControlFiles(t, dir, "jailnet")
}

// Bad --jail input is refused with status 2 and a message naming it,
// before anything runs.
func TestFeaturesJailBadInput(t *testing.T) {
	t.Parallel()
	jail, disk := jailDir(t)
	outside := filepath.Join(t.TempDir(), "vmlinux")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(jail, "link.img")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	ids := []string{"--jail-uid", jailID, "--jail-gid", jailID}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"dir missing", append([]string{"--jail", filepath.Join(jail, "none")}, ids...), "does not exist"},
		{"dir is a file", append([]string{"--jail", disk}, ids...), "is not a directory"},
		{"dir relative", append([]string{"--jail", "."}, ids...), "not an absolute path"},
		{"uid unknown", []string{"--jail", jail, "--jail-uid", "no-such-user-glue", "--jail-gid", jailID}, "--jail-uid: unknown user no-such-user-glue"},
		{"gid unknown", []string{"--jail", jail, "--jail-uid", jailID, "--jail-gid", "no-such-group-glue"}, "--jail-gid: unknown group no-such-group-glue"},
		{"uid root", []string{"--jail", jail, "--jail-uid", "0", "--jail-gid", jailID}, "not 0 (root)"},
		{"no gid", []string{"--jail", jail, "--jail-uid", jailID}, "--jail-uid and --jail-gid are required"},
		{"uid without jail", []string{"--jail-uid", jailID}, "need --jail DIR"},
		{"kernel outside", append([]string{"--jail", jail, "-k", outside}, ids...), "--kernel: " + outside + " is outside the jail directory"},
		{"disk links outside", append([]string{"--jail", jail, "-d", link}, ids...), "--disk: " + link + " is outside the jail directory"},
		{"vsock socket outside", append([]string{"--jail", jail, "--vsock", "cid=3,socket=" + filepath.Join(filepath.Dir(outside), "v.sock")}, ids...), "--vsock socket: " + filepath.Dir(outside) + " is outside the jail directory"},
		{"netns missing", append([]string{"--jail", jail, "--jail-netns", "/run/netns/no-such-glue-ns"}, ids...), "network namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runGlue(t, nil, append([]string{"run", "-m", "32"}, tc.args...)...)
			if res.code != 2 || !strings.Contains(res.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", res.code, res.stderr, tc.want)
			}
		})
	}
}

// Killing the glue that was started ends the jailed process too (the
// parent-death signal, which the uid drop would otherwise clear), so a
// jailed VM never outlives its supervisor unseen.
func TestFeaturesJailedVMEndsWithItsGlue(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	jail, _ := jailDir(t)
	s := startGlue(t, "--runtime-dir", dir, "run", "-n", "orphan", "-m", "64",
		"--jail", jail, "--jail-uid", jailID, "--jail-gid", jailID, "-p", "glue.test=counter")
	s.waitFor("GLUE-COUNT 1", time.Minute)
	pid := listJSON(t, dir)["orphan"].PID
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.wait(time.Minute) // returns once the jailed process has closed the output pipe
	// Dead, it is gone or a zombie until the host's init reaps the orphan.
	// A dying process closes its files before it becomes a zombie, so it
	// may still show as running for a moment after the pipe closed.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := procstat.Read(pid)
		if err != nil || st.State == 'Z' || st.State == 'X' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("jailed glue %d still runs 30 s after its supervisor was killed: %+v", pid, st)
		}
	}
}
