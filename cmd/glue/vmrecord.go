package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gluevmm/glue/control"
	"github.com/gluevmm/glue/vmm"
)

// vmEnd records how a VM ended: the last line of its log and the
// completion of its record in the runtime dir, which `glue list --all` and
// `glue logs` read once the process is gone (a detached VM's stderr goes
// nowhere).
type vmEnd struct {
	log     *vmLog
	fileLog *slog.Logger // the log file alone, for the final line
	record  *control.RecordFile
	reason  string // of a clean end, set before finish
}

// recordVM opens the VM's log (--log, default NAME.log in dir) and writes
// its record, and makes cfg.Logger write to the log as well as to stderr:
// Info and up (Debug with -vv) go to the file whatever -v says, so a VM's
// lifecycle is always there. A detached VM has no stderr of its own: the
// log becomes its stderr (and cfg.Logger writes only there), so that what
// the process prints as it dies — a Go panic or fatal error, the seccomp
// handler's line — is kept where glue logs looks.
func recordVM(dir, logFlag string, verbose int, detached bool, cfg *vmm.Config) (*vmEnd, error) {
	path := logFlag
	if path == "" {
		path = control.DefaultLogPath(dir, cfg.Name)
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, usageErrorf("--log: %w", err)
	}
	l, err := openVMLog(path, maxVMLogSize)
	if err != nil {
		return nil, usageErrorf("--log: %w", err)
	}
	if detached {
		if err := l.becomeStderr(); err != nil {
			l.Close()
			return nil, err
		}
	}
	rec, err := control.CreateRecord(dir, cfg.Name, path)
	if err != nil {
		l.Close()
		return nil, err
	}
	level := slog.LevelInfo
	if verbose >= 2 {
		level = slog.LevelDebug
	}
	fileLog := slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: level}))
	if detached {
		cfg.Logger = fileLog
	} else {
		cfg.Logger = slog.New(slog.NewMultiHandler(cfg.Logger.Handler(), fileLog.Handler()))
	}
	kernel := cfg.Kernel
	if kernel == "" {
		kernel = "(built-in guest)"
	}
	fileLog.Info("vm starting", "name", cfg.Name, "pid", os.Getpid(), "cpus", cfg.CPUs, "mem_mib", cfg.MemMiB, "kernel", kernel)
	return &vmEnd{log: l, fileLog: fileLog, record: rec}, nil
}

// finish writes the final line, with the exit status glue is about to
// return for err and why, and completes the record. Only the log gets the
// line: stderr gets err from main, as without a log.
func (e *vmEnd) finish(err error) {
	status, reason := exitStatus(err), e.reason
	if err != nil {
		reason = userMessage(err)
	}
	level := slog.LevelInfo
	if status != exitOK {
		level = slog.LevelError
	}
	e.fileLog.Log(context.Background(), level, "vm ended", "status", status, "reason", reason)
	if rerr := e.record.Finish(status, reason); rerr != nil {
		fmt.Fprintf(os.Stderr, "glue: recording the VM's end: %s\n", userMessage(rerr))
	}
	if lerr := e.log.Close(); lerr != nil {
		fmt.Fprintf(os.Stderr, "glue: the VM's log: %s\n", userMessage(lerr))
	}
}

// outcomeReason says why a VM ended cleanly: the guest's doing, a stop
// request, the console's quit sequence or a signal.
func outcomeReason(ctx context.Context, outcome vmm.Outcome) string {
	if outcome != vmm.OutcomeStopped {
		return string(outcome)
	}
	if cause := context.Cause(ctx); cause != nil {
		return fmt.Sprintf("%s: %v", outcome, cause)
	}
	return fmt.Sprintf("%s by a control request (glue stop)", outcome)
}
