package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Run runs s once and returns what it showed; live is sent glue's output
// (or the console file's) as it comes. Run never fails the caller: what
// went wrong is in the Result, for Verify.
func Run(ctx context.Context, env Env, s Scenario, live io.Writer) Result {
	start := time.Now()
	var r Result
	initrd := env.Initrd
	if s.PayloadMiB > 0 {
		var err error
		initrd, r.PayloadSHA256, err = WritePayloadInitrd(env.Initrd,
			filepath.Join(env.WorkDir, s.Name+"-initrd.cpio"), s.PayloadMiB<<20)
		if err != nil {
			r.problem("large initramfs: %v", err)
			r.Exit = -1
			return r
		}
		defer os.Remove(initrd)
	}
	ctx, cancel := context.WithTimeout(ctx, env.Deadline)
	defer cancel()
	if s.Control {
		runControl(ctx, env, s, initrd, live, &r)
	} else {
		runBoot(ctx, env, s, initrd, live, &r)
	}
	r.Secs = time.Since(start).Seconds()
	r.End = time.Now()
	return r
}

// runBoot runs glue in the foreground until it exits or ctx ends.
func runBoot(ctx context.Context, env Env, s Scenario, initrd string, live io.Writer, r *Result) {
	out := syncBuffer{watch: haltLine, seen: make(chan struct{})}
	cmd := exec.Command(env.Glue, s.RunArgs(env, initrd)...)
	w := io.MultiWriter(&out, live)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.Exit = -1
		r.problem("start glue: %v", err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-out.seen:
		// Linux halted its CPUs and will do nothing more; a VMM that
		// ends the VM on a halt would exit within haltGrace.
		select {
		case err = <-done:
		case <-time.After(haltGrace):
			r.Halted = true
			cmd.Process.Kill()
			err = <-done
		}
	case <-ctx.Done():
		r.Stalled = true
		cmd.Process.Kill()
		err = <-done
	}
	r.Output = out.String()
	var exitErr *exec.ExitError
	switch {
	case r.Stalled || r.Halted:
		r.Exit = -1
	case errors.As(err, &exitErr):
		r.Exit = exitErr.ExitCode()
	case err != nil:
		r.Exit = -1
		r.problem("glue: %v", err)
	}
}

var tickLine = regexp.MustCompile(`GLUE-TICK (\d+)`)

// lastTick is the number of the last GLUE-TICK line in out, 0 if none.
func lastTick(out []byte) int {
	all := tickLine.FindAllSubmatch(out, -1)
	if len(all) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(string(all[len(all)-1][1]))
	return n
}

// pauseQuiet is how long a paused VM's console must stay unchanged, after
// it has settled, for the pause to count: many tick intervals.
const pauseQuiet = 2 * time.Second

// runControl starts the VM detached with its console in a file, waits for
// init's ticks, pauses it and checks that the console stays silent,
// resumes it and checks that the ticks go on, and stops it.
func runControl(ctx context.Context, env Env, s Scenario, initrd string, live io.Writer, r *Result) {
	r.Exit = -1 // a detached VM's exit status is not observable; stop's is
	dir := filepath.Join(env.WorkDir, s.Name+"-run")
	console := filepath.Join(env.WorkDir, s.Name+".console")
	name := "nested-" + env.Token
	glue := func(args ...string) error {
		out, err := exec.CommandContext(ctx, env.Glue, append([]string{"--runtime-dir", dir}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("glue %v: %w: %s", args, err, bytes.TrimSpace(out))
		}
		return nil
	}
	defer func() {
		exec.Command(env.Glue, "--runtime-dir", dir, "stop", "--all").Run()
	}()
	follow := &follower{path: console, live: live}
	defer func() { follow.poll(); r.Output = string(follow.seen) }()

	args := append([]string{"run", "--detach", "-n", name, "--console", "file=" + console}, s.RunArgs(env, initrd)[1:]...)
	if err := glue(args...); err != nil {
		r.problem("%v", err)
		return
	}
	if !follow.until(ctx, func(out []byte) bool { return lastTick(out) >= 2 }) {
		r.Stalled = ctx.Err() != nil
		if !r.Stalled {
			r.problem("console file: %v", follow.err)
		}
		return
	}
	if err := glue("pause", "-n", name); err != nil {
		r.problem("%v", err)
		return
	}
	// Output the guest wrote just before the pause may still be on its
	// way through glue's console buffer: wait for it to settle, then
	// insist on silence.
	if !follow.settle(ctx, 500*time.Millisecond, settleLimit) {
		r.problem("console still growing %v after glue pause returned", settleLimit)
	}
	paused := len(follow.seen)
	pausedTick := lastTick(follow.seen)
	time.Sleep(pauseQuiet)
	follow.poll()
	if len(follow.seen) != paused {
		r.problem("console advanced while paused: %q", follow.seen[paused:])
	}
	if err := glue("resume", "-n", name); err != nil {
		r.problem("%v", err)
		return
	}
	if !follow.until(ctx, func(out []byte) bool { return lastTick(out) > pausedTick+1 }) {
		r.problem("no tick after resume (last %d at the pause)", pausedTick)
		r.Stalled = ctx.Err() != nil
		return
	}
	if err := glue("stop", "-n", name); err != nil {
		r.problem("%v", err)
		return
	}
	r.Exit = 0 // stop waited for the process to exit and found it gone
}

// follower reads a growing file.
type follower struct {
	path string
	live io.Writer
	seen []byte
	err  error
}

func (f *follower) poll() {
	b, err := os.ReadFile(f.path)
	f.err = err
	if err != nil || len(b) <= len(f.seen) {
		return
	}
	f.live.Write(b[len(f.seen):])
	f.seen = b
}

// until polls until done(content) or ctx ends.
func (f *follower) until(ctx context.Context, done func([]byte) bool) bool {
	for {
		f.poll()
		if done(f.seen) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// settleLimit bounds the wait for a paused VM's console to settle: its
// last output is in glue's buffer for well under a second.
const settleLimit = 10 * time.Second

// settle polls until the file has not grown for quiet, and reports
// whether it did so within limit.
func (f *follower) settle(ctx context.Context, quiet, limit time.Duration) bool {
	start := time.Now()
	last, since := len(f.seen), time.Now()
	for time.Since(since) < quiet {
		if ctx.Err() != nil || time.Since(start) > limit {
			return false
		}
		time.Sleep(100 * time.Millisecond)
		f.poll()
		if len(f.seen) != last {
			last, since = len(f.seen), time.Now()
		}
	}
	return true
}

// haltLine is what Linux prints when it halts the machine: after a
// power-off request that it has no way to carry out (no ACPI), which
// the reboot system call turns into a halt.
const haltLine = "reboot: System halted"

// haltGrace is how long glue may take to end a VM whose Linux halted.
const haltGrace = 5 * time.Second

// syncBuffer is a bytes.Buffer for glue's stdout and stderr together; it
// closes seen when the output first contains watch.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	watch string
	seen  chan struct{}
	found bool
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	// The tail of the buffer is enough: the line is short.
	if tail := b.buf.Bytes()[max(0, b.buf.Len()-len(p)-len(b.watch)):]; !b.found && bytes.Contains(tail, []byte(b.watch)) {
		b.found = true
		close(b.seen)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
