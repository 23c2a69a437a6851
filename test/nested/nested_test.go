package nested

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
	"github.com/gluevmm/glue/test/nested/plan"
	"github.com/gluevmm/glue/test/scenario"
)

// scenariosEnv names the scenarios to run, comma-separated (default: all
// of scenario.All), to run one by hand.
const scenariosEnv = "GLUE_NESTED_SCENARIOS"

// outerParamsEnv adds to the outer kernel's command line, for
// experiments (transparent_hugepage=always, say).
const outerParamsEnv = "GLUE_NESTED_OUTER_PARAMS"

// scenarioDeadline is one inner boot's deadline. A quiet inner boot takes
// ~10-25 s of the emulated machine's time on an idle host; the rest is
// for a loaded one.
const scenarioDeadline = 150 * time.Second

func selected(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, s := range scenario.All {
		names = append(names, s.Name)
	}
	if v := os.Getenv(scenariosEnv); v != "" {
		names = strings.Split(v, ",")
		for _, n := range names {
			if _, ok := scenario.Lookup(n); !ok {
				t.Fatalf("%s: no scenario %q (have %v)", scenariosEnv, n, scenario.All)
			}
		}
	}
	return names
}

// newEnv is the scenarios' environment inside the outer machine, for
// kernel.
func newEnv(t *testing.T, kernel string) scenario.Env {
	t.Helper()
	setupVersion, err := scenario.SetupVersion(kernel)
	if err != nil {
		t.Fatal(err)
	}
	token := make([]byte, 8)
	rand.Read(token)
	return scenario.Env{Glue: plan.Glue, Kernel: plan.Kernel, Vmlinux: plan.Vmlinux, Initrd: plan.Initrd, WorkDir: plan.WorkDir,
		Token: hex.EncodeToString(token), SetupVersion: setupVersion, Deadline: scenarioDeadline,
		RootImage: plan.RootImage, Fsck: plan.Fsck}
}

// outerRun is a Session's run of a plan and what it reported.
type outerRun struct {
	env     scenario.Env // the plan's, with the inner modules
	s       *Session
	o       *Outcome
	limit   time.Duration
	timeout bool // the machine still ran at limit
}

// tierLimit is the longest TestNestedLinux lets the emulated machine run.
const tierLimit = 25 * time.Minute

// watchdogGrace is how much longer than a scenario's deadline the outer
// init may go without a marker before its machine counts as wedged: the
// outer init times an attempt out itself, unless its machine locked up.
const watchdogGrace = 90 * time.Second

// bootOuter builds the outer initramfs (with extra) and runs p on as many
// outer boots as wedges need, for at most limit, logging each marker line
// but the inner logs.
func bootOuter(t *testing.T, kernel, qemu string, p plan.Plan, extra []File, limit time.Duration) *outerRun {
	t.Helper()
	// Debian's static e2fsck (package e2fsck-static) runs in the outer
	// machine's initramfs.
	fsck := hosttest.LookPath(t, "e2fsck.static")
	dir := t.TempDir()
	buildStart := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	outer, err := Build(ctx, dir, kernel, p.Env.Token, fsck, extra)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	p.Env.Modules = outer.InnerModules
	t.Logf("outer initramfs built in %v", time.Since(buildStart).Round(time.Millisecond))
	r := &outerRun{s: &Session{Outer: outer, Dir: dir, Machine: Machine{QEMU: qemu, Kernel: kernel, CPUs: 2, MemMiB: 2048,
		ResetLog: dir + "/resets.log", Watchdog: p.Env.Deadline + watchdogGrace, ExtraParams: os.Getenv(outerParamsEnv)}},
		limit: limit, env: p.Env}
	ctx, cancel = context.WithTimeout(context.Background(), limit)
	defer cancel()
	if r.o, err = r.s.Run(ctx, p, func(line string) { t.Log(line) }); err != nil {
		t.Fatal(err)
	}
	r.timeout = ctx.Err() != nil
	return r
}

// checkMachine fails t unless the outer init ran to its end and powered
// the machine off, and no outer console complained but for the lockups
// of the boots that wedged, which it notes.
func (r *outerRun) checkMachine(t *testing.T) {
	t.Helper()
	o := r.o
	if o.QEMUErr != nil {
		t.Errorf("QEMU: %v", o.QEMUErr)
	}
	if r.timeout {
		t.Errorf("the emulated machine was still running after %v", r.limit)
	}
	if o.Fatal != "" {
		t.Errorf("outer init: %s", o.Fatal)
	}
	for _, l := range o.Unexpected {
		t.Errorf("marker port: unexpected line %q", l)
	}
	if !o.Done {
		resets := ReadConsole(r.s.Machine.ResetLog)
		t.Errorf("outer init did not finish (no NESTED-DONE); QEMU's CPU resets (%d lines, a reset after boot "+
			"means the outer machine was reset, e.g. by a triple fault), the last ones:\n%s",
			len(resets), strings.Join(resets[max(0, len(resets)-40):], "\n"))
	}
	for i, b := range r.s.Boots {
		console := ReadConsole(b.Console)
		if b.Wedged {
			t.Logf("NOTICE: outer machine %d wedged or was reset and was replaced; why:\n%s", i+1,
				strings.Join(o.Wedges[min(i, len(o.Wedges)-1)], "\n"))
			continue
		}
		for _, l := range unknownComplaints(console) {
			t.Errorf("outer kernel (boot %d): %s", i+1, l)
		}
		// The PMU check: each inner Linux that saw no AMD counter
		// extensions in glue's CPUID probed the legacy counters once.
		begun, reached := 0, 0
		for _, as := range o.Attempts {
			for _, a := range as {
				if a.OuterBoot == i+1 {
					b, r := a.linuxBoots()
					begun, reached = begun+b, reached+r
				}
			}
		}
		for _, c := range o.Compared { // QEMU's Linux probes them too
			if c.OuterBoot == i+1 && !c.Wedged {
				begun++
				if c.InitSecs > 0 {
					reached++
				}
			}
		}
		if n := legacyPerfProbes(console); n < reached || n > begun {
			t.Errorf("outer boot %d: %d probes of AMD's legacy perf counters (%s) for %d inner Linux boots that reached "+
				"init (%d begun): an inner Linux that does not probe them saw counter extensions in glue's CPUID",
				i+1, n, legacyPerfProbe, reached, begun)
		}
		t.Logf("outer console %d (errors and worse):\n%s", i+1, strings.Join(console, "\n"))
	}
}

// The tier-4 scenarios inside the emulated SVM machine: one outer boot
// (more if one wedges), then each scenario's glue VM in turn, each
// reported as a subtest.
func TestNestedLinux(t *testing.T) {
	t.Parallel()
	kernel := hosttest.Kernel(t)
	qemu := hosttest.LookPath(t, "qemu-system-x86_64")
	names := selected(t)
	env := newEnv(t, kernel)
	// Every boot may take its deadline and the watchdog's grace twice,
	// and an outer boot takes well under two minutes; but the machine is
	// stopped before go test's -timeout 30m (README.md) would end the
	// package without a report.
	boots := 0
	for _, n := range names {
		s, _ := scenario.Lookup(n)
		boots += len(s.Boots())
	}
	limit := min(tierLimit, time.Duration(1+len(names)*plan.Attempts)*2*time.Minute+
		time.Duration(boots*plan.Attempts)*(scenarioDeadline+watchdogGrace))
	run := bootOuter(t, kernel, qemu, plan.Plan{Scenarios: names, Env: env}, nil, limit)
	o := run.o
	t.Logf("NOTICE: nested tier: wall %v (outer /dev/kvm after %v) for %d scenarios, %d outer boots", o.Wall.Round(time.Second),
		o.Ready.Round(time.Millisecond), len(names), len(run.s.Boots))
	t.Run("machine", run.checkMachine)
	for _, name := range names {
		s, _ := scenario.Lookup(name)
		t.Run(name, func(t *testing.T) {
			attempts := o.Attempts[name]
			if len(attempts) == 0 {
				t.Fatal("never started: the outer init ended first (see the machine subtest)")
			}
			for _, a := range attempts[:len(attempts)-1] {
				how := fmt.Sprintf("stalled after %.0f s", a.Result.Secs)
				switch {
				case a.Wedged:
					how = "wedged the outer machine (its CPUs locked up, or a triple fault reset it; see the machine subtest)"
				case a.Result.GuestCrashed():
					how = "ended in the inner guest's triple fault"
				}
				t.Logf("NOTICE: RETRY: attempt %d %s; its last lines:\n%s", a.Number, how,
					strings.Join(a.Result.LastLines(15), "\n"))
			}
			a := attempts[len(attempts)-1]
			if !a.Ended {
				t.Fatalf("attempt %d has no result: the machine ended during it; glue's output:\n%s",
					a.Number, strings.Join(a.Log, "\n"))
			}
			t.Logf("attempt %d: %.1f s, %d boot(s), the last glue's exit %d", a.Number, a.Result.Secs, len(a.Result.Boots), a.Result.Exit)
			if a.Wedged {
				t.Errorf("attempt %d wedged the outer machine too (its CPUs locked up, or a triple fault reset it; see the machine subtest)", a.Number)
			}
			for _, e := range scenario.Verify(s, run.env, a.Result) {
				t.Error(e)
			}
			for _, l := range unknownComplaints(a.Log) {
				t.Errorf("inner: %s", l)
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("glue's output:\n%s", a.Result.Output)
			}
		})
	}
}
