package scenario

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeGlue writes a shell script that stands in for glue and returns an
// Env that runs it.
func fakeGlue(t *testing.T, script string) Env {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "glue")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return Env{Glue: path, WorkDir: dir, Token: "c0ffee", Deadline: time.Minute}
}

// runBoot answers init's requests: kill -9 once the fsync loop has
// acknowledged enough fsyncs (counting what was acknowledged before the
// kill), and a line on stdin for the hvc0 check.
func TestRunBootRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
		step   Step
		check  func(t *testing.T, b Boot, out string)
	}{
		{"kill in the fsync loop", `i=0; while :; do echo "GLUE-FSYNC $i"; i=$((i+1)); sleep 0.01; done`,
			Step{Checks: []string{"fsync"}, KillAfter: 5}, func(t *testing.T, b Boot, out string) {
				if !b.Killed || b.Acked < 5 || b.Exit != -1 {
					t.Errorf("killed %v after %d acknowledged fsyncs, exit %d; want killed after 5 or more, exit -1", b.Killed, b.Acked, b.Exit)
				}
				if !strings.Contains(out, "GLUE-FSYNC 5\n") {
					t.Errorf("output %q", out)
				}
			}},
		{"a line typed for hvc0", `echo "GLUE-READY init host"; echo "echo=$(dd bs=1 count=18 2>/dev/null)"`,
			Step{Checks: []string{"hvc0"}}, func(t *testing.T, b Boot, out string) {
				if !strings.Contains(out, "echo="+hostLine+"\r") || b.Exit != 0 || b.Killed {
					t.Errorf("exit %d, killed %v, output %q; want the host's line echoed", b.Exit, b.Killed, out)
				}
			}},
		{"exit status", `exit 3`, Step{}, func(t *testing.T, b Boot, out string) {
			if b.Exit != 3 {
				t.Errorf("exit %d, want 3", b.Exit)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := fakeGlue(t, tt.script)
			var r Result
			b, out := runBoot(context.Background(), env, Scenario{Name: "fake", CPUs: 1, MemMiB: 128}, tt.step, "initrd", "", io.Discard, &r)
			if len(r.Problems) > 0 || r.Stalled {
				t.Fatalf("problems %q, stalled %v", r.Problems, r.Stalled)
			}
			tt.check(t, b, out)
		})
	}
}

// The host's stream is the offsets, the guest's (init's tcp.go) their
// complement; either way a piece out of place changes the digest.
func TestOffsetStream(t *testing.T) {
	t.Parallel()
	var s offsetStream
	b := make([]byte, 20)
	if n, _ := s.Read(b); n != 16 || b[0] != 0 || b[8] != 8 {
		t.Fatalf("read %d: % x", n, b[:n])
	}
	if n, _ := s.Read(b[:8]); n != 8 || b[0] != 16 {
		t.Fatalf("second read %d: % x", n, b[:n])
	}
}

// Run returns every boot's result and output after its marker, and when
// it ended, which the RTC check compares the guest's clock with.
func TestRunSteps(t *testing.T) {
	t.Parallel()
	env := fakeGlue(t, `echo "boot of $*" | cut -c1-12; exit 0`)
	s := Scenario{Name: "fake", CPUs: 1, MemMiB: 128, End: "reset"}
	before := time.Now()
	r := Run(context.Background(), env, s, io.Discard)
	if r.End.Before(before) || r.Secs <= 0 {
		t.Errorf("End %v, Secs %v: not set at the end", r.End, r.Secs)
	}
	if len(r.Boots) != 1 || r.Boots[0].Exit != 0 || r.Exit != 0 {
		t.Errorf("boots %+v, exit %d", r.Boots, r.Exit)
	}
	if got := SplitBoots(r.Output); len(got) != 1 || got[0] != "boot of run \n" || !strings.HasPrefix(r.Output, BootMarker+"1\n") {
		t.Errorf("output %q", r.Output)
	}
}

// The host's side of the tcp check hashes what it sent and received, and
// close ends a transfer the guest left unfinished instead of waiting out
// the connection's deadline.
func TestTransfer(t *testing.T) {
	t.Parallel()
	const size = 1 << 20
	serve := func(t *testing.T) (*TCPServer, string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &TCPServer{ln: ln, conns: make(chan net.Conn, 1), done: make(chan TCPResult, 1)}
		go func() { s.done <- transfer(ln, s.conns, size, size/2) }()
		return s, ln.Addr().String()
	}
	t.Run("both ways", func(t *testing.T) {
		t.Parallel()
		s, addr := serve(t)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		in := sha256.New()
		if _, err := io.CopyN(in, conn, size); err != nil {
			t.Fatal(err)
		}
		out := sha256.New()
		if _, err := io.CopyN(io.MultiWriter(conn, out), strings.NewReader(strings.Repeat("guest's bytes ", size)), size/2); err != nil {
			t.Fatal(err)
		}
		res := <-s.done
		conn.Close()
		if res.Err != "" || res.Sent != size || res.Received != size/2 ||
			res.SentSHA != hex.EncodeToString(in.Sum(nil)) || res.ReceivedSHA != hex.EncodeToString(out.Sum(nil)) {
			t.Errorf("%+v", res)
		}
	})
	t.Run("guest gone", func(t *testing.T) {
		t.Parallel()
		s, addr := serve(t)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for len(s.conns) == 0 && len(s.done) == 0 { // accepted
			time.Sleep(10 * time.Millisecond)
		}
		done := make(chan TCPResult)
		go func() { s.ln.Close(); done <- s.closeConn() }()
		select {
		case res := <-done:
			if res.Err == "" {
				t.Errorf("an unfinished transfer reported no error: %+v", res)
			}
		case <-time.After(time.Minute):
			t.Fatal("close waited for the unfinished transfer")
		}
	})
}

// A boot whose last line is cut short (glue killed mid-line) still ends
// before the next boot's marker.
func TestRunStepsCutLine(t *testing.T) {
	t.Parallel()
	env := fakeGlue(t, `printf "cut short"`)
	env.RootImage = filepath.Join(env.WorkDir, "root.img")
	if err := os.WriteFile(env.RootImage, []byte("image"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := Scenario{Name: "fake", CPUs: 1, MemMiB: 128, Steps: []Step{{End: "reset"}, {End: "reset"}}}
	r := Run(context.Background(), env, s, io.Discard)
	if got := SplitBoots(r.Output); len(got) != 2 || len(r.Boots) != 2 {
		t.Errorf("%d boots, output %q split into %q", len(r.Boots), r.Output, got)
	}
}
