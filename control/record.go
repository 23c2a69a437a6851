package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A VM's record, <name>.record in the runtime dir, is what stays of it
// after its process is gone: written when the VM takes its name (pid, log
// path, start), completed when it ends (exit status and reason). It is kept
// until Remove (glue rm) or until a new VM of the same name replaces it; a
// record never completed belongs to a process that was killed or crashed
// before it could say why.

// maxRecordSize bounds what ReadRecord reads of a record file.
const maxRecordSize = 64 << 10

// StatusKilled is the exit status recorded for a VM ended by Kill: what a
// shell reports for SIGKILL.
const StatusKilled = 128 + 9

// Record describes a VM that runs or ran.
type Record struct {
	Name      string     `json:"name"`
	PID       int        `json:"pid"`
	Log       string     `json:"log,omitempty"` // the VM's log file
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Status    *int       `json:"status,omitempty"` // the process's exit status
	Reason    string     `json:"reason,omitempty"`
}

// ReasonUnrecorded is the reason shown for a VM whose process ended
// without completing its record.
const ReasonUnrecorded = "the process ended without recording why (killed by a signal, or crashed)"

// RecordFile is a live VM's record, open for Finish.
type RecordFile struct {
	f   *os.File
	rec Record
}

// CreateRecord writes the record of this process's VM name in dir,
// replacing an ended VM's. Call it only while holding the name (after
// Listen). The file stays open, so that Finish needs no path operation
// (the VM may be sandboxed by then).
func CreateRecord(dir, name, logPath string) (*RecordFile, error) {
	path, err := recordPath(dir, name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("control: create record: %w", err)
	}
	r := &RecordFile{f: f, rec: Record{Name: name, PID: os.Getpid(), Log: logPath, StartedAt: time.Now().UTC()}}
	if err := r.write(); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// Finish records the VM's end and closes the file.
func (r *RecordFile) Finish(status int, reason string) error {
	now := time.Now().UTC()
	r.rec.EndedAt, r.rec.Status, r.rec.Reason = &now, &status, reason
	err := r.write()
	if cerr := r.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("control: record: %w", cerr)
	}
	return err
}

// write puts the record at offset 0. A completed record is longer than
// the one it overwrites (it only adds fields), so nothing of the old one
// remains after its end; readers stop at the first JSON value anyway.
func (r *RecordFile) write() error {
	b, err := json.Marshal(r.rec)
	if err != nil {
		return fmt.Errorf("control: record: %w", err)
	}
	if _, err := r.f.WriteAt(append(b, '\n'), 0); err != nil {
		return fmt.Errorf("control: write record: %w", err)
	}
	return nil
}

// ReadRecord returns the record of name in dir, whether the VM runs or
// not; an error wrapping fs.ErrNotExist if there is none.
func ReadRecord(dir, name string) (Record, error) {
	path, err := recordPath(dir, name)
	if err != nil {
		return Record{}, err
	}
	if err := checkDir(dir); err != nil {
		return Record{}, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return Record{}, fmt.Errorf("control: record of %q: %w", name, err)
	}
	defer f.Close()
	var rec Record
	if err := json.NewDecoder(io.LimitReader(f, maxRecordSize)).Decode(&rec); err != nil {
		return Record{}, fmt.Errorf("control: record of %q: %w", name, err)
	}
	if rec.Name != name {
		return Record{}, fmt.Errorf("control: record of %q names %q", name, rec.Name)
	}
	return rec, nil
}

// Ended returns the records of the VMs in dir that no longer run, sorted
// by name; a record never completed gets ReasonUnrecorded. Like List, it
// removes the socket and lock that a dead VM left.
func Ended(dir string) ([]Record, error) {
	if err := checkDir(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("control: ended VMs in %s: %w", dir, err)
	}
	var out []Record
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), ".record")
		if !ok || ValidName(name) != nil {
			continue
		}
		if alive, err := isAlive(dir, name); err != nil || alive {
			continue
		}
		rec, err := ReadRecord(dir, name)
		if err != nil {
			continue // vanished meanwhile, or not a record we wrote
		}
		if rec.Status == nil {
			rec.Reason = ReasonUnrecorded
		}
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func isAlive(dir, name string) (bool, error) {
	sock, lock, err := paths(dir, name)
	if err != nil {
		return false, err
	}
	alive, _, err := reap(sock, lock)
	return alive, err
}

// RecordKill completes the record of a VM that Kill ended (its process
// could not) with StatusKilled and reason, and appends reason to its log.
func RecordKill(dir, name string, pid int, reason string) error {
	rec, err := ReadRecord(dir, name)
	if err != nil {
		return err
	}
	if rec.PID != pid || rec.Status != nil {
		return nil // the record is another process's, or complete
	}
	path, _ := recordPath(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("control: record of %q: %w", name, err)
	}
	r := &RecordFile{f: f, rec: rec}
	if err := r.Finish(StatusKilled, reason); err != nil {
		return err
	}
	if rec.Log == "" {
		return nil
	}
	lf, err := os.OpenFile(rec.Log, os.O_WRONLY|os.O_APPEND|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("control: log of %q: %w", name, err)
	}
	_, err = fmt.Fprintf(lf, "time=%s level=ERROR msg=\"vm ended\" status=%d reason=%q\n",
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), StatusKilled, reason)
	if cerr := lf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("control: log of %q: %w", name, err)
	}
	return nil
}

// Remove deletes what an ended VM left in dir: its record and, when it
// is the default one in dir, its log and the log's rotated copy. A VM
// that still runs is refused.
func Remove(dir, name string) error {
	alive, err := isAlive(dir, name)
	if err != nil {
		return err
	}
	if alive {
		return fmt.Errorf("control: VM %q is running: stop it first", name)
	}
	rec, err := ReadRecord(dir, name)
	if err != nil {
		return err
	}
	files := []string{filepath.Join(dir, name+".record")}
	if def := DefaultLogPath(dir, name); rec.Log == def {
		files = append(files, def, def+".1")
	}
	var errs []error
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("control: remove %q: %w", name, err)
	}
	return nil
}

// DefaultLogPath is where a VM's log goes unless told otherwise: next to
// its socket.
func DefaultLogPath(dir, name string) string {
	return filepath.Join(dir, name+".log")
}

func recordPath(dir, name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	return filepath.Join(dir, name+".record"), nil
}
