package perf

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/control"
)

var controlRuns = flag.Int("control-runs", 30, "pause/resume round trips per VMM")

// BenchmarkPauseResume times one pause and one resume request, from the
// client's send to the answer that the vCPUs have stopped (or run again),
// each on a fresh connection as the CLI makes them: glue through its
// control socket, QEMU through QMP's stop/cont on a Unix socket. The
// guest runs its counter, so the vCPU is busy in the guest when paused.
func BenchmarkPauseResume(b *testing.B) {
	glue, qemu := vmms(b)
	pause, resume := samples{}, samples{}
	dir := b.TempDir()

	glueOp := startGlueControl(b, glue, filepath.Join(dir, "run"))
	var qemuOp func(op string) time.Duration
	if qemu != nil {
		qemuOp = startQMP(b, *qemu, filepath.Join(dir, "qmp.sock"))
	}
	for b.Loop() {
		for range *controlRuns {
			pause.add(glue, ms(glueOp("pause")))
			resume.add(glue, ms(glueOp("resume")))
			if qemuOp != nil {
				pause.add(*qemu, ms(qemuOp("stop")))
				resume.add(*qemu, ms(qemuOp("cont")))
			}
		}
	}
	pause.report(b, "pause-ms", "pause-ratio")
	setup(fmt.Sprintf("pause/resume: %d of each per VMM on a running counter guest, one connection per request", *controlRuns))
	record(row{metric: "pause request → all vCPUs stopped (ms)", verb: "%.2f", values: pause})
	record(row{metric: "resume request → answered (ms)", verb: "%.2f", values: resume})
}

// startGlueControl runs a detached glue VM and returns a function that
// times one control request on it.
func startGlueControl(b *testing.B, glue vmm, dir string) func(op string) time.Duration {
	b.Helper()
	out, err := exec.Command(glue.path, "--runtime-dir", dir, "run", "--detach", "-n", "perf",
		"-m", fmt.Sprint(guestMiB), "-p", "glue.test=counter").CombinedOutput()
	if err != nil {
		b.Fatalf("glue run --detach: %v\n%s", err, out)
	}
	b.Cleanup(func() { exec.Command(glue.path, "--runtime-dir", dir, "stop", "-n", "perf").Run() })
	ctx := context.Background()
	return func(op string) time.Duration {
		start := time.Now()
		c, err := control.Dial(dir, "perf")
		if err == nil {
			if op == "pause" {
				err = c.Pause(ctx)
			} else {
				err = c.Resume(ctx)
			}
		}
		if err != nil {
			b.Fatalf("glue %s: %v", op, err)
		}
		return time.Since(start)
	}
}

// startQMP runs QEMU with a QMP socket and returns a function that times
// one QMP command ("stop" or "cont") on a fresh connection, capabilities
// negotiation excluded.
func startQMP(b *testing.B, qemu vmm, sock string) func(op string) time.Duration {
	b.Helper()
	args := append(qemu.args("glue.test=counter", devices{}), "-qmp", "unix:"+sock+",server=on,wait=off")
	cmd := exec.Command(qemu.path, args...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("QEMU made no QMP socket")
		}
	}
	return func(op string) time.Duration {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		qmpReply(b, r) // greeting
		fmt.Fprintln(conn, `{"execute":"qmp_capabilities"}`)
		qmpReply(b, r)
		start := time.Now()
		fmt.Fprintf(conn, `{"execute":%q}`+"\n", op)
		qmpReply(b, r)
		return time.Since(start)
	}
}

// qmpReply reads QMP lines until a greeting or a command's answer,
// skipping asynchronous events (STOP, RESUME).
func qmpReply(b *testing.B, r *bufio.Reader) {
	b.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("QMP: %v", err)
		}
		var msg map[string]json.RawMessage
		if json.Unmarshal([]byte(line), &msg) != nil {
			continue
		}
		if _, ok := msg["error"]; ok {
			b.Fatalf("QMP error: %s", strings.TrimSpace(line))
		}
		if _, ok := msg["event"]; !ok {
			return
		}
	}
}
