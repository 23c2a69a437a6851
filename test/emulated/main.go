// Command emulated runs, inside a machine that QEMU's TCG emulates with
// AMD SVM, the tests that skipped on a host without /dev/kvm. The
// machine's Linux loads kvm_amd, so the tests meet a real /dev/kvm there
// (nested paging included) and take the same code paths as on a host with
// KVM. It reads the host's `go test -json` (the run in which those tests
// skipped for the reason "kvm"), compiles each of their packages' test
// binary on the host, boots the machine with the host's root file system
// shared over virtio-9p, runs exactly those tests there with
// GLUE_REQUIRE_KVM=1 and "kvm" no longer an allowed skip, and writes their
// results as `go test -json` on stdout, for test/testreport.
//
// TCG emulates one CPU per host thread, slowly; the tests are dealt out
// to several one-CPU machines that run at once (-machines, one per host
// core is the default's aim) rather than one machine with several CPUs,
// which under emulated nested SVM locks up far more often. A machine still
// sometimes locks up (the nested tier, test/nested, meets the same): the
// tests of a package that were under way then run again on a fresh
// machine, once.
//
//	go test -json ./... > host.json
//	go run ./test/emulated -host-report host.json | go run ./test/testreport
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gluevmm/glue/test/emulated/job"
	"github.com/gluevmm/glue/test/nested"
)

// The environment test/hosttest reads (a test helper: package code may not
// import it; a test checks the names agree).
const (
	requireEnv  = "GLUE_REQUIRE_KVM"
	allowEnv    = "GLUE_ALLOW_SKIP"
	kernelEnv   = "GLUE_TEST_KERNEL"
	slowdownEnv = "GLUE_TEST_SLOWDOWN"
	emulatedEnv = "GLUE_TEST_EMULATED"
	reasonKVM   = "kvm"
)

// wedgeAttempts is how many machines a package's tests may wedge in: CI's
// run of 772aa70 saw one machine lock up as a whole twice, in two
// different tests. failAttempts is how often a test that fails runs.
const (
	wedgeAttempts = 3
	failAttempts  = 2
)

func main() {
	hostReport := flag.String("host-report", "", "the host's `go test -json` output")
	kernel := flag.String("kernel", os.Getenv(kernelEnv), "the bzImage of an unpacked Debian linux-image package: the machine's kernel, its modules the machine's KVM")
	race := flag.Bool("race", false, "build the test binaries with the race detector")
	machines := flag.Int("machines", 2, "how many machines run at once, the tests split between them")
	cpus := flag.Int("cpus", 1, "each machine's CPUs (with more, emulated nested SVM wedges far more often)")
	memMiB := flag.Int("mem", 8192, "each machine's memory in MiB (TestBasicMemorySizes gives a VM 6 GiB, which glue refuses on a smaller host)")
	quiet := flag.Duration("quiet", 10*time.Minute, "how long the machine may print nothing before it counts as wedged")
	slowdown := flag.Int("slowdown", 4, "how many times slower than a host the tests are told the machine runs ("+slowdownEnv+"): the factor on their time bounds")
	flag.Parse()
	if *hostReport == "" || *kernel == "" || *machines < 1 || *slowdown < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: emulated -host-report FILE [-kernel BZIMAGE] [-race] [-machines N] [-cpus N] [-mem MIB] [-quiet DURATION] [-slowdown N]")
		os.Exit(2)
	}
	m := machine{kernel: *kernel, cpus: *cpus, memMiB: *memMiB, quiet: *quiet}
	env := testEnv(*slowdown)
	if err := run(context.Background(), *hostReport, *race, *machines, m, env, json.NewEncoder(os.Stdout)); err != nil {
		fmt.Fprintln(os.Stderr, "emulated:", err)
		os.Exit(1)
	}
}

// pending is a package's tests still to run, and on which attempt.
type pending struct {
	pkgTests
	dir, binary string
	attempt     int
}

func run(ctx context.Context, hostReport string, race bool, machines int, m machine, env []string, out *json.Encoder) error {
	f, err := os.Open(hostReport)
	if err != nil {
		return err
	}
	pkgs, err := skippedForKVM(f)
	f.Close()
	if err != nil {
		return err
	}
	if len(pkgs) == 0 {
		fmt.Fprintln(os.Stderr, "emulated: no test skipped for want of /dev/kvm: nothing to run")
		return nil
	}
	if m.qemu, err = exec.LookPath("qemu-system-x86_64"); err != nil {
		return err
	}
	// Not under /tmp: the machine mounts a tmpfs there.
	dir, err := os.MkdirTemp("/var/tmp", "glue-emulated-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	queue, err := compile(ctx, dir, pkgs, race)
	if err != nil {
		return err
	}
	m.initrd = filepath.Join(dir, "initramfs.cpio")
	if err := writeInitramfs(ctx, dir, m.kernel, m.initrd); err != nil {
		return err
	}
	var (
		outMu sync.Mutex // one machine's results at a time
		wg    sync.WaitGroup
	)
	shares := split(queue, machines)
	errs := make([]error, len(shares))
	for i, share := range shares {
		m := m
		m.console = filepath.Join(dir, fmt.Sprintf("console-%d.log", i))
		wg.Go(func() { errs[i] = runShare(ctx, i, m, dir, env, share, &outMu, out) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// split deals the tests of queue out to n shares, one test at a time, so
// that each machine gets about as many of every package's tests.
func split(queue []pending, n int) [][]pending {
	shares := make([][]pending, n)
	next := 0
	for _, p := range queue {
		parts := make([]pending, n)
		for _, t := range p.Tests {
			parts[next].Tests = append(parts[next].Tests, t)
			next = (next + 1) % n
		}
		for i, part := range parts {
			if len(part.Tests) > 0 {
				q := p
				q.Tests = part.Tests
				shares[i] = append(shares[i], q)
			}
		}
	}
	return slices.DeleteFunc(shares, func(s []pending) bool { return len(s) == 0 })
}

// runShare boots machine n until its share of the tests has run or failed.
func runShare(ctx context.Context, n int, m machine, dir string, env []string, queue []pending, outMu *sync.Mutex, out *json.Encoder) error {
	for boot := 1; len(queue) > 0; boot++ {
		start := time.Now()
		jobPath := filepath.Join(dir, fmt.Sprintf("job-%d-%d.json", n, boot))
		var err error
		if queue, err = bootOnce(ctx, m, jobPath, env, queue, outMu, out); err != nil {
			return fmt.Errorf("machine %d, boot %d: %w", n, boot, err)
		}
		fmt.Fprintf(os.Stderr, "emulated: machine %d, boot %d ran for %s\n", n, boot, time.Since(start).Round(time.Second))
	}
	return nil
}

// compile builds each package's test binary into dir.
func compile(ctx context.Context, dir string, pkgs []pkgTests, race bool) ([]pending, error) {
	var queue []pending
	for i, p := range pkgs {
		out, err := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", p.Package).Output()
		if err != nil {
			return nil, fmt.Errorf("go list %s: %w", p.Package, err)
		}
		pkgDir := strings.TrimSpace(string(out))
		if m, hidden := job.HiddenBy(pkgDir); hidden {
			// Else each run fails in the machine with a bare "chdir: no
			// such file or directory", and none of the tests runs.
			return nil, fmt.Errorf("%s is in %s, which the emulated machine mounts its own %s on: run from a checkout elsewhere", pkgDir, m.Dir, m.FS)
		}
		bin := filepath.Join(dir, strconv.Itoa(i)+".test")
		args := []string{"test", "-c", "-o", bin}
		if race {
			args = append(args, "-race")
		}
		if b, err := exec.CommandContext(ctx, "go", append(args, p.Package)...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go test -c %s: %w\n%s", p.Package, err, b)
		}
		queue = append(queue, pending{pkgTests: p, dir: pkgDir, binary: bin, attempt: 1})
	}
	return queue, nil
}

// testEnv is the host's environment for the tests, with /dev/kvm now
// required: "kvm" leaves GLUE_ALLOW_SKIP. The tests' scratch files go to
// the machine's /tmp, nothing may fetch modules, the tests know they are
// in the machine, and their time bounds grow by slowdown.
func testEnv(slowdown int) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "TMPDIR", "GOPROXY", requireEnv, slowdownEnv, emulatedEnv:
		case allowEnv:
			allow := slices.DeleteFunc(strings.Split(v, ","), func(r string) bool { return r == reasonKVM })
			env = append(env, k+"="+strings.Join(allow, ","))
		default:
			env = append(env, kv)
		}
	}
	return append(env, "TMPDIR=/tmp", "GOPROXY=off", requireEnv+"=1", slowdownEnv+"="+strconv.Itoa(slowdown), emulatedEnv+"=1")
}

// bootOnce runs queue on one machine, writes the results of what ended
// to out, and returns what is left: the tests of a package the machine
// wedged in (on their next attempt) and the packages after it.
func bootOnce(ctx context.Context, m machine, jobPath string, env []string, queue []pending, outMu *sync.Mutex, out *json.Encoder) ([]pending, error) {
	j := job.Job{Env: env}
	for _, p := range queue {
		j.Runs = append(j.Runs, job.Run{Dir: p.dir, Binary: p.binary, Args: []string{
			"-test.v=test2json", "-test.count=1", "-test.timeout=30m", "-test.paniconexit0", "-test.run=" + runPattern(p.Tests)}})
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(jobPath, b, 0o644); err != nil {
		return nil, err
	}
	runs := make([]runOutput, len(queue))
	r := m.boot(ctx, jobPath, func(l string) { parseMarker(l, runs) })
	switch {
	case r.err != nil:
		return nil, r.err
	case r.fatal != "":
		return nil, fmt.Errorf("the init failed: %s", r.fatal)
	case !r.ready:
		return nil, fmt.Errorf("the machine ended before its init was ready; its console:\n%s", tail(nested.ReadConsole(m.console), 30))
	}
	why := "the emulated machine stopped"
	console := nested.ReadConsole(m.console)
	if r.wedged {
		why = "the emulated machine wedged"
		// The boot's console is overwritten by the next one: what tells a
		// lockup from a test that is only slow goes to the log now.
		fmt.Fprint(os.Stderr, wedgeReport(queue, runs, console))
	}
	if l := nested.Lockups(console); len(l) > 0 {
		why += " (" + strings.Join(l, "; ") + ")"
	}
	outMu.Lock()
	defer outMu.Unlock()
	return settle(ctx, queue, runs, why, out)
}

// settle writes the results of the runs that ended, and of the tests
// that finished in a run the machine stopped during, to out; it returns
// what is left to run: that run's other tests on their next attempt (or,
// after the last, their failure, why they failed), the tests that failed
// on an attempt before the last (their output goes to the log, their
// result is the next attempt's), and the runs that did not start.
func settle(ctx context.Context, queue []pending, runs []runOutput, why string, out *json.Encoder) ([]pending, error) {
	var next []pending
	for i, p := range queue {
		o := runs[i]
		if !o.started {
			next = append(next, p)
			continue
		}
		events, err := toEvents(ctx, p.Package, o.lines, o.code, o.ended)
		if err != nil {
			return nil, err
		}
		if o.ended && p.attempt < failAttempts {
			if bad := failedTests(events); len(bad) > 0 {
				fmt.Fprintf(os.Stderr, "emulated: RETRY: %s on attempt %d of %d: %s failed; they run again on a fresh machine. What they printed:\n%s",
					p.Package, p.attempt, failAttempts, strings.Join(bad, ", "), testOutput(events, bad))
				events = withoutTests(events, bad)
				q := p
				q.Tests, q.attempt = bad, p.attempt+1
				next = append(next, q)
			}
		}
		if !o.ended {
			done := finished(events)
			events = ofTests(events, done)
			rest := slices.DeleteFunc(slices.Clone(p.Tests), func(t string) bool { return slices.Contains(done, t) })
			if p.attempt < wedgeAttempts {
				fmt.Fprintf(os.Stderr, "emulated: %s during %s; its %d unfinished tests run again on a fresh machine\n", why, p.Package, len(rest))
				p.Tests, p.attempt = rest, p.attempt+1
				next = append(next, p)
			} else {
				events = append(events, failed(p.Package, rest, fmt.Sprintf("%s on attempt %d of %d", why, p.attempt, wedgeAttempts))...)
			}
		}
		for _, e := range events {
			if err := out.Encode(e); err != nil {
				return nil, err
			}
		}
	}
	return next, nil
}

// wedgeReport says what a wedged machine was doing: the last lines of
// each run it had started and not ended (the test running, and how far it
// got), and the end of its kernel console (a lockup, or nothing).
func wedgeReport(queue []pending, runs []runOutput, console []string) string {
	var b strings.Builder
	for i, o := range runs {
		if o.started && !o.ended {
			last := strings.ReplaceAll(tail(o.lines, 5), "\x16", "") // without test2json's framing marks
			fmt.Fprintf(&b, "emulated: wedged during %s, its last output:\n%s\n", queue[i].Package, last)
		}
	}
	fmt.Fprintf(&b, "emulated: the end of the wedged machine's console:\n%s\n", tail(console, 20))
	return b.String()
}

// runOutput is what the machine reported of one run.
type runOutput struct {
	lines          []string
	started, ended bool
	code           int
}

// parseMarker takes one line of the marker port.
func parseMarker(l string, runs []runOutput) {
	word, rest, _ := strings.Cut(l, " ")
	n, rest, _ := strings.Cut(rest, " ")
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i >= len(runs) {
		return
	}
	switch word {
	case job.Begin:
		runs[i].started = true
	case job.Out:
		runs[i].lines = append(runs[i].lines, rest)
	case job.End:
		runs[i].ended = true
		runs[i].code, _ = strconv.Atoi(rest)
	}
}

// tail is the last n lines of lines, joined.
func tail(lines []string, n int) string {
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
