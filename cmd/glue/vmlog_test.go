package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The log never passes its cap: past it, the content moves to FILE.1 and
// the file starts over, so the newest lines are in the file, the ones
// before them in FILE.1, and older ones are gone.
func TestVMLogRotatesOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "vm.log")
	const limit = 100
	l, err := openVMLog(path, limit)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range 30 {
		line := strings.Repeat(string(rune('a'+i%26)), 9) + "\n" // 10 bytes
		lines = append(lines, line)
		l.Write([]byte(line))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if len(cur) > limit || len(old) > limit {
		t.Fatalf("sizes %d and %d, want at most %d each", len(cur), len(old), limit)
	}
	// 30 lines of 10 bytes, 10 to a file: the last 10 are current, the 10
	// before them rotated.
	if want := strings.Join(lines[20:], ""); string(cur) != want {
		t.Errorf("current log %q, want %q", cur, want)
	}
	if want := strings.Join(lines[10:20], ""); string(old) != want {
		t.Errorf("rotated log %q, want %q", old, want)
	}
}

// A new VM of the same name appends to the log of the one before.
func TestVMLogAppends(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "vm.log")
	for _, line := range []string{"first\n", "second\n"} {
		l, err := openVMLog(path, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		l.Write([]byte(line))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := printLog(&buf, path); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "first\nsecond\n" {
		t.Errorf("log %q, want both runs", buf.String())
	}
}

// What reaches the file past Write (a detached VM's stderr is the log) is
// rotated with the rest, not cut off.
func TestVMLogRotatesWritesPastIt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "vm.log")
	l, err := openVMLog(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("logged\n"))
	stderr, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	stderr.WriteString("printed to stderr\n")
	stderr.Close()
	l.Write(bytes.Repeat([]byte("x"), 99)) // rotates
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if old, _ := os.ReadFile(path + ".1"); string(old) != "logged\nprinted to stderr\n" {
		t.Errorf("rotated log %q", old)
	}
}
