package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gluevmm/glue/control"
	"github.com/gluevmm/glue/test/procstat"
)

// endedVM is a row of `glue list --all --json` for a VM that ended.
type endedVM struct {
	control.Info
	Status *int   `json:"status"`
	Reason string `json:"reason"`
}

func listAll(t *testing.T, dir string) map[string]endedVM {
	t.Helper()
	var rows []endedVM
	if err := json.Unmarshal([]byte(glueIn(t, dir, "list", "--all", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	byName := map[string]endedVM{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	return byName
}

// waitEnded waits until list --all shows name as ended.
func waitEnded(t *testing.T, dir, name string) endedVM {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if vm := listAll(t, dir)[name]; vm.State == control.StateEnded {
			return vm
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listed as ended: %+v", name, listAll(t, dir))
		}
	}
}

// A VM whose process is stopped (SIGSTOP) answers nothing: stop, pause,
// resume and console each give up after --reply-timeout with status 1 and
// a line saying what did not answer; stop --force then ends the process
// (status 0), list no longer shows it, and list --all and its log record
// the kill.
func TestLifecycleUnresponsiveVMIsForceStopped(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	name := detach(t, dir, "-n", "frozen", "-m", "32", "-p", "glue.test=counter")
	pid := listJSON(t, dir)[name].PID
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	waitStopped(t, pid)
	for _, tc := range []struct{ cmd, op string }{
		{"stop", "stop"}, {"pause", "pause"}, {"resume", "resume"}, {"console", "console"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			args := []string{"--runtime-dir", dir, "--reply-timeout", "1s", tc.cmd, "-n", name}
			if tc.cmd == "console" {
				args = append(args, "--follow")
			}
			res := runGlue(t, nil, args...)
			want := `VM "frozen" did not answer ` + tc.op + ` within 1s`
			if res.code != 1 || !strings.Contains(res.stderr, want) {
				t.Fatalf("glue %s: exit %d, stderr %q; want 1 and %q", tc.cmd, res.code, res.stderr, want)
			}
		})
	}
	if vm := listJSON(t, dir)[name]; vm.State != control.StateUnresponsive {
		t.Fatalf("list shows %s as %q, want unresponsive", name, vm.State)
	}

	res := runGlue(t, nil, "--runtime-dir", dir, "--reply-timeout", "1s", "stop", "--force", "-n", name)
	if res.code != 0 || !strings.Contains(res.stderr, "killed by glue stop --force") {
		t.Fatalf("stop --force: exit %d, stderr %q", res.code, res.stderr)
	}
	if _, ok := listJSON(t, dir)[name]; ok {
		t.Fatal("list still shows the force-stopped VM")
	}
	for _, f := range []string{name + ".sock", name + ".lock"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left after stop --force (%v)", f, err)
		}
	}
	vm := listAll(t, dir)[name]
	if vm.State != control.StateEnded || vm.Status == nil || *vm.Status != control.StatusKilled || !strings.Contains(vm.Reason, "stop --force") {
		t.Errorf("list --all: %+v, want ended with status %d by stop --force", vm, control.StatusKilled)
	}
	if logs := glueIn(t, dir, "logs", "-n", name); !strings.Contains(lastLine(logs), "status=137") {
		t.Errorf("log does not end with the kill:\n%s", logs)
	}
}

// A detached VM that triple-faults has no stderr anyone reads; its end is
// in its log (glue logs) and in glue list --all, with status 1 and the
// reason, until glue rm removes it.
func TestLifecycleDetachedTripleFaultIsRecorded(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	name := detach(t, dir, "-n", "crashed", "-m", "32", "-p", "glue.test=cmdline glue.end=triple")
	vm := waitEnded(t, dir, name)
	if vm.Status == nil || *vm.Status != 1 || !strings.Contains(vm.Reason, "guest triple fault") {
		t.Errorf("list --all: %+v, want status 1 and the triple fault", vm)
	}
	text := glueIn(t, dir, "list", "--all")
	if !strings.Contains(text, "1: vcpu 0: guest triple fault") {
		t.Errorf("list --all table lacks the exit:\n%s", text)
	}
	logs := glueIn(t, dir, "logs", "-n", name)
	last := lastLine(logs)
	if !strings.Contains(last, `msg="vm ended" status=1`) || !strings.Contains(last, "guest triple fault") {
		t.Errorf("log's last line %q, want the end with status 1 and its reason\n%s", last, logs)
	}
	if !strings.Contains(logs, `msg="vm starting"`) || !strings.Contains(logs, `msg="vm running"`) {
		t.Errorf("log lacks the lifecycle:\n%s", logs)
	}
	glueIn(t, dir, "rm", "-n", name)
	if _, ok := listAll(t, dir)[name]; ok {
		t.Error("list --all still shows the VM after glue rm")
	}
	if res := runGlue(t, nil, "--runtime-dir", dir, "logs", "-n", name); res.code != 1 {
		t.Errorf("logs after rm: exit %d, want 1", res.code)
	}
}

// A foreground VM keeps stderr as it was (the test in basic_test.go checks
// that) and writes its log where --log says.
func TestLifecycleLogFlag(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	logFile := filepath.Join(t.TempDir(), "vm.log")
	res := runGlue(t, nil, "--runtime-dir", dir, "run", "-n", "logged", "--log", logFile, "-m", "32", "-p", "glue.test=cmdline glue.end=reset")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if last := lastLine(string(data)); !strings.Contains(last, `status=0 reason="guest reset"`) {
		t.Errorf("--log's last line %q, want the reset", last)
	}
	if _, err := os.Stat(filepath.Join(dir, "logged.log")); !os.IsNotExist(err) {
		t.Errorf("a log in the runtime dir too (%v)", err)
	}
	if got := glueIn(t, dir, "logs", "-n", "logged"); got != string(data) {
		t.Errorf("glue logs printed %q, want the --log file", got)
	}
}

// waitStopped waits until process pid is stopped (state T): SIGSTOP is
// delivered asynchronously.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := procstat.Read(pid)
		if err == nil && st.State == 'T' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d not stopped: %+v, %v", pid, st, err)
		}
	}
}
