package control

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// A record written at start reads back unfinished while the VM runs; once
// the VM is gone Ended lists it, finished with its status and reason, and
// Remove deletes it with its default log.
func TestRecordLifecycle(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t, "rec", newFake(), nil)
	logPath := DefaultLogPath(dir, "rec")
	for _, f := range []string{logPath, logPath + ".1"} {
		if err := os.WriteFile(f, []byte("line\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r, err := CreateRecord(dir, "rec", logPath)
	if err != nil {
		t.Fatal(err)
	}
	if ended, err := Ended(dir); err != nil || len(ended) != 0 {
		t.Fatalf("Ended while the VM runs: %+v, %v", ended, err)
	}
	if err := Remove(dir, "rec"); err == nil {
		t.Fatal("Remove of a running VM succeeded")
	}
	if err := r.Finish(1, "guest triple fault"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ended, err := Ended(dir)
	if err != nil || len(ended) != 1 {
		t.Fatalf("Ended: %+v, %v; want the one VM", ended, err)
	}
	e := ended[0]
	if e.Name != "rec" || e.PID != os.Getpid() || e.Log != logPath || e.Status == nil || *e.Status != 1 ||
		e.Reason != "guest triple fault" || e.EndedAt == nil || e.StartedAt.IsZero() {
		t.Errorf("record %+v", e)
	}
	if err := Remove(dir, "rec"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"rec.record", "rec.log", "rec.log.1"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left after Remove (%v)", f, err)
		}
	}
}

// A record that its VM never finished (the process was killed) is listed
// with ReasonUnrecorded and no status.
func TestRecordNeverFinished(t *testing.T) {
	t.Parallel()
	s, dir := startServer(t, "cut", newFake(), nil)
	if _, err := CreateRecord(dir, "cut", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ended, err := Ended(dir)
	if err != nil || len(ended) != 1 || ended[0].Status != nil || ended[0].Reason != ReasonUnrecorded {
		t.Fatalf("Ended: %+v, %v; want one without status, reason %q", ended, err, ReasonUnrecorded)
	}
}

// ReadRecord takes whatever is in a record file without panicking, and
// accepts only a record of the name asked for.
func FuzzReadRecord(f *testing.F) {
	f.Add([]byte(`{"name":"vm","pid":7,"log":"/run/glue/vm.log","started_at":"2026-12-03T17:00:00Z"}` + "\n"))
	f.Add([]byte(`{"name":"vm","pid":7,"started_at":"2026-12-03T17:00:00Z","ended_at":"2026-12-03T17:01:00Z","status":1,"reason":"x"}` + "\n{\"name\""))
	f.Add([]byte(`{"name":"other"}`))
	f.Add([]byte("\x00\xff{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(t.TempDir(), "run")
		if err := EnsureDir(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "vm.record"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		rec, err := ReadRecord(dir, "vm")
		if err == nil && rec.Name != "vm" {
			t.Fatalf("accepted a record of %q", rec.Name)
		}
	})
}
