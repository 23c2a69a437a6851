package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gluevmm/glue/control"
	"github.com/gluevmm/glue/test/hosttest"
)

// vmDir is a private runtime directory for one test's VMs; every VM left
// in it is stopped when the test ends.
func vmDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	t.Cleanup(func() { exec.Command(glueBin, "--runtime-dir", dir, "stop", "--all").Run() })
	return dir
}

// detach starts a VM with `glue run --detach` and returns its name.
func detach(t *testing.T, dir string, args ...string) string {
	t.Helper()
	res := runGlue(t, nil, append([]string{"--runtime-dir", dir, "run", "--detach"}, args...)...)
	if res.code != 0 {
		t.Fatalf("run --detach: exit %d: %s", res.code, res.stderr)
	}
	return strings.TrimSpace(res.stdout)
}

// glueIn runs a client subcommand against dir and fails the test unless it
// exits 0.
func glueIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	res := runGlue(t, nil, append([]string{"--runtime-dir", dir}, args...)...)
	if res.code != 0 {
		t.Fatalf("glue %s: exit %d: %s", strings.Join(args, " "), res.code, res.stderr)
	}
	return res.stdout
}

func listJSON(t *testing.T, dir string) map[string]control.Info {
	t.Helper()
	var infos []control.Info
	if err := json.Unmarshal([]byte(glueIn(t, dir, "list", "--json")), &infos); err != nil {
		t.Fatal(err)
	}
	byName := map[string]control.Info{}
	for _, i := range infos {
		byName[i.Name] = i
	}
	return byName
}

// waitState waits until list reports name in state want. On a saturated
// host list may briefly show a busy VM as unresponsive; any other state
// than want fails at once.
func waitState(t *testing.T, dir, name string, want control.State) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got := listJSON(t, dir)[name].State
		switch {
		case got == want:
			return
		case got != control.StateUnresponsive || time.Now().After(deadline):
			// A VM that is gone says why in its log.
			logs := runGlue(t, nil, "--runtime-dir", dir, "logs", "-n", name)
			t.Fatalf("%s is %q, want %q; its log:\n%s", name, got, want, logs.stdout)
		}
	}
}

// counterFile follows a detached counter guest's --console file.
type counterFile string

func (f counterFile) last(t *testing.T) int {
	t.Helper()
	data, _ := os.ReadFile(string(f))
	n := -1
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "GLUE-COUNT "); ok {
			if i, err := strconv.Atoi(v); err == nil {
				n = i
			}
		}
	}
	return n
}

func (f counterFile) waitPast(t *testing.T, n int) int {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if last := f.last(t); last > n {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter did not pass %d", n)
		}
	}
}

// Two named VMs run detached; list shows both; pause freezes one's guest
// (its counter and console output stand still), resume continues from the
// same count, console attaches and detaches, stop --all ends both and
// leaves no socket. (What a paused VM costs in CPU time is measured by a
// benchmark in test/perf, not asserted here.)
func TestFeaturesControlSession(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	logs := t.TempDir()
	a := counterFile(filepath.Join(logs, "a.log"))
	detach(t, dir, "-n", "alpha", "-c", "2", "-m", "64", "--console", "file="+string(a), "-p", "glue.test=counter")
	if name := detach(t, dir, "-m", "32", "-p", "glue.test=counter"); !strings.HasPrefix(name, "vm-") {
		t.Fatalf("generated name %q", name)
	}

	waitState(t, dir, "alpha", control.StateRunning)
	vms := listJSON(t, dir)
	if len(vms) != 2 || vms["alpha"].State != control.StateRunning || vms["alpha"].CPUs != 2 || vms["alpha"].MemMiB != 64 {
		t.Fatalf("list: %+v", vms)
	}
	table := glueIn(t, dir, "ls")
	for _, want := range []string{"NAME", "PID", "STATE", "CPUS", "MEM", "UPTIME", "KERNEL", "alpha", "64M", "(built-in guest)"} {
		if !strings.Contains(table, want) {
			t.Errorf("list table lacks %q:\n%s", want, table)
		}
	}

	a.waitPast(t, 1)
	glueIn(t, dir, "pause", "-n", "alpha")
	glueIn(t, dir, "pause", "-n", "alpha") // idempotent
	waitState(t, dir, "alpha", control.StatePaused)
	// The running guest prints about 10 lines a second; paused, not one
	// byte may follow what was on its way when the pause landed, over a
	// window worth 20 lines.
	log := settled(func() string { return readFile(t, string(a)) })
	frozen := a.last(t)
	time.Sleep(2 * time.Second)
	if now := readFile(t, string(a)); now != log {
		t.Fatalf("the guest ran while paused: after GLUE-COUNT %d it printed %q", frozen, strings.TrimPrefix(now, log))
	}
	waitState(t, dir, "alpha", control.StatePaused)
	glueIn(t, dir, "resume", "-n", "alpha")
	if next := a.waitPast(t, frozen); next != frozen+1 {
		// The file may have gained several lines by now; look at the first.
		if !strings.Contains(readFile(t, string(a)), fmt.Sprintf("GLUE-COUNT %d\n", frozen+1)) {
			t.Fatalf("after resume the counter went from %d to %d", frozen, next)
		}
	}

	// console: history, then live output; Ctrl-a x detaches, the VM runs on.
	cmd := exec.Command(glueBin, "--runtime-dir", dir, "console", "-n", "alpha")
	stdin, _ := cmd.StdinPipe()
	out := &session{t: t, notify: make(chan struct{}, 1)}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	last := a.last(t)
	for deadline := time.Now().Add(time.Minute); !strings.Contains(out.output(), fmt.Sprintf("GLUE-COUNT %d\n", last+1)); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("console showed no live output:\n%s", out.output())
		}
	}
	if !strings.Contains(out.output(), "GLUE-COUNT 0\n") {
		t.Errorf("console did not replay the history")
	}
	stdin.Write([]byte{0x01, 'x'})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("console after Ctrl-a x: %v", err)
	}
	waitState(t, dir, "alpha", control.StateRunning)

	glueIn(t, dir, "stop", "--all")
	if vms := listJSON(t, dir); len(vms) != 0 {
		t.Fatalf("VMs left after stop --all: %+v", vms)
	}
	// What stays is the ended VMs' records and logs, until glue rm.
	for _, e := range readDirNames(t, dir) {
		if !strings.HasSuffix(e, ".record") && !strings.HasSuffix(e, ".log") && !strings.HasSuffix(e, ".log.1") {
			t.Errorf("left in the runtime dir after stop: %s", e)
		}
	}
	glueIn(t, dir, "rm", "--all")
	for _, e := range readDirNames(t, dir) {
		t.Errorf("left in the runtime dir after rm --all: %s", e)
	}
}

func readDirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A foreground VM stopped from another process exits 0, removing its socket
// and lock.
func TestFeaturesControlStopExitsZero(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	s := startGlue(t, "--runtime-dir", dir, "run", "-n", "fg", "-p", "glue.test=counter")
	s.waitFor("GLUE-COUNT 1\n", time.Minute)
	glueIn(t, dir, "stop", "-n", "fg")
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d after stop, want 0", code)
	}
	for _, f := range []string{"fg.sock", "fg.lock"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s still there after stop (%v)", f, err)
		}
	}
}

func TestFeaturesControlDuplicateName(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	detach(t, dir, "-n", "twin", "-m", "32", "-p", "glue.test=counter")
	for _, args := range [][]string{
		{"run", "-n", "twin", "-p", "glue.test=cmdline"},
		{"run", "--detach", "-n", "twin", "-p", "glue.test=cmdline"},
	} {
		res := runGlue(t, nil, append([]string{"--runtime-dir", dir}, args...)...)
		if res.code != 2 || !strings.Contains(res.stderr, "already running") {
			t.Errorf("glue %v: exit %d, stderr %q; want 2 and 'already running'", args, res.code, res.stderr)
		}
	}
}

// kill -9 leaves a socket and lock behind; the next list cleans them up.
func TestFeaturesControlKilledVMIsCleanedUp(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	detach(t, dir, "-n", "doomed", "-m", "32", "-p", "glue.test=counter")
	syscall.Kill(listJSON(t, dir)["doomed"].PID, syscall.SIGKILL)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, ok := listJSON(t, dir)["doomed"]; !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("killed VM still listed")
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "doomed.sock")); !os.IsNotExist(err) {
		t.Errorf("socket of the killed VM not cleaned up (%v)", err)
	}
}

// 200 pause/resume/info requests from 20 concurrent clients: no errors, and
// the state that the last request set.
func TestFeaturesControlConcurrentRequests(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	detach(t, dir, "-n", "busy", "-c", "2", "-m", "32", "-p", "glue.test=counter")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := range 20 {
		wg.Go(func() {
			for i := range 10 {
				c, err := control.Dial(dir, "busy")
				if err != nil {
					errs <- err
					return
				}
				switch (g + i) % 3 {
				case 0:
					err = c.Pause(ctx)
				case 1:
					err = c.Resume(ctx)
				default:
					_, err = c.Info(ctx)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	glueIn(t, dir, "pause", "-n", "busy")
	waitState(t, dir, "busy", control.StatePaused)
	glueIn(t, dir, "resume", "-n", "busy")
	waitState(t, dir, "busy", control.StateRunning)
}

// Garbage, oversized and wrong-version requests get errors; the VM runs on.
func TestFeaturesControlBadRequests(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	detach(t, dir, "-n", "target", "-m", "32", "-p", "glue.test=counter")
	sock := filepath.Join(dir, "target.sock")
	tests := []struct {
		name    string
		request string
		code    control.Code
	}{
		{"garbage", "\x00\xffnot json\n", control.CodeBadRequest},
		{"oversized", "{\"version\":1,\"op\":\"" + strings.Repeat("x", 8192) + "\"}\n", control.CodeTooLarge},
		{"wrong version", `{"version":99,"op":"info"}` + "\n", control.CodeUnsupportedVersion},
		{"unknown op", `{"version":1,"op":"explode"}` + "\n", control.CodeUnknownOp},
		{"missing op", `{"version":1}` + "\n", control.CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			conn.Write([]byte(tc.request))
			var resp control.Response
			if err := json.NewDecoder(conn).Decode(&resp); err != nil {
				t.Fatalf("no JSON response: %v", err)
			}
			if resp.OK || resp.Error == nil || resp.Error.Code != tc.code {
				t.Fatalf("response %+v, want error %s", resp, tc.code)
			}
		})
	}
	waitState(t, dir, "target", control.StateRunning)
}

// Another user who reaches the socket still cannot control the VM: the
// server checks the peer's uid (SO_PEERCRED) and answers
// permission_denied. Normally the 0700 runtime directory and the 0600
// socket keep others from connecting at all, so the test opens that path
// as a careless owner would: the socket and lock inodes are made 0666 and
// hard-linked into a runtime directory of uid 65534's own, which its
// client accepts (it refuses directories it does not own). The client
// runs from a copy of the binary that uid 65534 can execute.
func TestFeaturesControlOtherUserRefused(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	hosttest.Root(t, "runs a client as another uid")
	const other = 65534 // nobody
	dir := vmDir(t)
	detach(t, dir, "-n", "private", "-m", "32", "-p", "glue.test=counter")

	// t.TempDir's parents are 0700; /tmp is open to everyone.
	shared, err := os.MkdirTemp("", "glue-other-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	otherDir := filepath.Join(shared, "run")
	bin := filepath.Join(shared, "glue")
	if err := os.Chmod(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(glueBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(otherDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(otherDir, other, other); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"private.sock", "private.lock"} {
		if err := os.Chmod(filepath.Join(dir, f), 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(filepath.Join(dir, f), filepath.Join(otherDir, f)); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(bin, "--runtime-dir", otherDir, "pause", "-n", "private")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: other, Gid: other}}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("uid %d paused root's VM: %s", other, out)
	}
	want := fmt.Sprintf("%s: uid %d may not control this VM (owner uid 0)", control.CodePermissionDenied, other)
	if !strings.Contains(string(out), want) {
		t.Fatalf("uid %d's pause: %v, output %q; want the server's %q", other, err, out, want)
	}
	waitState(t, dir, "private", control.StateRunning)
}

// --all acts on every VM of the user.
func TestFeaturesControlAll(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	for _, n := range []string{"a1", "a2", "a3"} {
		detach(t, dir, "-n", n, "-m", "32", "-p", "glue.test=counter")
	}
	glueIn(t, dir, "pause", "--all")
	for _, n := range []string{"a1", "a2", "a3"} {
		waitState(t, dir, n, control.StatePaused)
	}
	glueIn(t, dir, "resume", "--all")
	glueIn(t, dir, "stop", "--all")
	if vms := listJSON(t, dir); len(vms) != 0 {
		t.Fatalf("left after stop --all: %+v", vms)
	}
}

// glue console --follow prints the console without reading stdin (what
// would detach an interactive client, and then EOF, change nothing) and
// ends, with status 0, when the VM ends.
func TestFeaturesControlConsoleFollow(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	name := detach(t, dir, "-n", "followed", "-m", "64", "-p", "glue.test=counter")
	s := startGlue(t, "--runtime-dir", dir, "console", "--follow", "-n", name)
	n := lastCount(s.waitFor("GLUE-COUNT ", time.Minute))
	fmt.Fprint(s.stdin, "\x01x") // Ctrl-a x
	s.stdin.Close()
	s.waitFor(fmt.Sprintf("GLUE-COUNT %d\n", n+3), time.Minute) // still following
	glueIn(t, dir, "stop", "-n", name)
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("console --follow: exit %d after the VM ended", code)
	}
}

// glue console --follow on a VM that has already ended has nothing to
// follow: status 0 at once, as if the VM had ended while followed (what a
// script that starts a short VM and follows it races into). A name that
// never ran is still an error.
func TestFeaturesControlConsoleFollowEnded(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	name := detach(t, dir, "-n", "short", "-m", "32", "-p", "glue.test=cmdline glue.end=triple")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		rec, err := control.ReadRecord(dir, name)
		if err == nil && rec.EndedAt != nil && len(listJSON(t, dir)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has not ended after a minute: record %+v, %v", name, rec, err)
		}
	}
	res := runGlue(t, nil, "--runtime-dir", dir, "console", "--follow", "-n", name)
	if res.code != 0 || res.stdout != "" || res.stderr != "" {
		t.Fatalf("console --follow of an ended VM: exit %d, stdout %q, stderr %q; want 0 and no output", res.code, res.stdout, res.stderr)
	}
	res = runGlue(t, nil, "--runtime-dir", dir, "console", "--follow", "-n", "never-ran")
	if res.code != 1 || !strings.Contains(res.stderr, "not running") {
		t.Fatalf("console --follow of a name that never ran: exit %d, stderr %q; want 1, not running", res.code, res.stderr)
	}
}

// lastCount is the last complete GLUE-COUNT in out, -1 if none.
func lastCount(out string) int {
	n := -1
	for line := range strings.Lines(out) {
		v, ok := strings.CutPrefix(line, "GLUE-COUNT ")
		if i, err := strconv.Atoi(strings.TrimSuffix(v, "\n")); ok && err == nil && strings.HasSuffix(v, "\n") {
			n = i
		}
	}
	return n
}

// glue console with stdin at its end (a file, /dev/null: a script) prints
// the console's recent output, then detaches; the VM runs on.
func TestFeaturesControlConsoleStdinAtEOF(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	name := detach(t, dir, "-n", "eof", "-m", "32", "-p", "glue.test=counter")
	waitState(t, dir, name, control.StateRunning)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		res := runGlue(t, nil, "--runtime-dir", dir, "console", "-n", name)
		if res.code != 0 {
			t.Fatalf("console with stdin at EOF: exit %d: %s", res.code, res.stderr)
		}
		if strings.Contains(res.stdout, "GLUE-COUNT 0\n") && strings.Contains(res.stdout, "GLUE-COUNT 1\n") {
			break // the history, from the first line on
		}
		if time.Now().After(deadline) {
			t.Fatalf("console with stdin at EOF printed no history:\n%s", res.stdout)
		}
	}
	waitState(t, dir, name, control.StateRunning)
}

// Clients attach and detach (Ctrl-a x) one after another: the VM runs on
// through all of them. The session half-closes each detached client's
// connection (shutdown, which the seccomp filter must allow); eight rounds,
// because whether a round takes that path depends on which side of the
// session notices the detach first.
func TestFeaturesControlConsoleReattach(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	name := detach(t, dir, "-n", "reattached", "-m", "32", "-p", "glue.test=counter")
	for round := range 8 {
		s := startGlue(t, "--runtime-dir", dir, "console", "-n", name)
		n := lastCount(s.waitFor("GLUE-COUNT ", time.Minute))
		s.waitFor(fmt.Sprintf("GLUE-COUNT %d\n", n+2), time.Minute) // live output
		fmt.Fprint(s.stdin, "\x01x")
		if code := s.wait(time.Minute); code != 0 {
			t.Fatalf("round %d: console exit %d after Ctrl-a x", round, code)
		}
		waitState(t, dir, name, control.StateRunning)
	}
}

// A detached VM's stderr is its log: what the process prints as it dies
// (here the Go runtime's SIGQUIT dump; a panic or the seccomp handler's
// line alike) is there for glue logs.
func TestFeaturesControlDetachedLastWordsLogged(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	name := detach(t, dir, "-n", "quitter", "-m", "32", "-p", "glue.test=counter")
	syscall.Kill(listJSON(t, dir)[name].PID, syscall.SIGQUIT)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, ok := listJSON(t, dir)[name]; !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("VM still listed after SIGQUIT")
		}
	}
	logs := glueIn(t, dir, "logs", "-n", name)
	for _, want := range []string{"SIGQUIT: quit", "goroutine "} {
		if !strings.Contains(logs, want) {
			t.Errorf("glue logs lacks %q:\n%s", want, logs)
		}
	}
}
