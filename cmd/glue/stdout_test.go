package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gluevmm/glue/console"
	"github.com/gluevmm/glue/control"
)

// A detached VM's output goes to the history alone, which never waits: it
// is written on the vCPU thread too, not handed to the copier.
func TestDetachedConsoleOutputIsWrittenDirectly(t *testing.T) {
	history := control.NewConsoleBuffer(64)
	defer history.Close()
	w := console.NewAsyncWriter(consoleOutput{history: history}, 1<<10)
	defer w.Close(time.Second)
	w.Write([]byte("hello"))
	if w.Direct() != 5 {
		t.Fatalf("%d of 5 bytes written directly", w.Direct())
	}
	if got := string(history.History()); got != "hello" {
		t.Fatalf("history %q", got)
	}
}

// glue run's console output offers stdout's and the console file's
// descriptor, so that the guest's output is written on the vCPU thread
// while they are ready, and still reaches the history.
func TestConsoleOutputIsWrittenDirectly(t *testing.T) {
	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer pw.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "console"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		out  io.Writer
		read func() string
	}{
		{"stdout", &stdoutWriter{w: pw, closed: func() {}}, func() string {
			got := make([]byte, 5)
			io.ReadFull(r, got)
			return string(got)
		}},
		{"console file", &consoleFileWriter{f: file, log: slog.New(slog.DiscardHandler)}, func() string {
			got, _ := os.ReadFile(file.Name())
			return string(got)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			history := control.NewConsoleBuffer(64)
			defer history.Close()
			w := console.NewAsyncWriter(consoleOutput{history: history, out: tc.out}, 1<<10)
			defer w.Close(time.Second)
			w.Write([]byte("hello"))
			if w.Direct() != 5 {
				t.Fatalf("%d of 5 bytes written directly", w.Direct())
			}
			if got := tc.read(); got != "hello" {
				t.Fatalf("%s got %q", tc.name, got)
			}
			if got := string(history.History()); got != "hello" {
				t.Fatalf("history %q", got)
			}
		})
	}
}
