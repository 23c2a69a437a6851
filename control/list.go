package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// ListTimeout bounds the wait for each VM's answer in List. A live VM
// answers in milliseconds, but a host saturated by busy guests can delay
// that by a second or more; a hung VM costs List this much, once.
const ListTimeout = 3 * time.Second

// listParallel bounds the VMs queried at once.
const listParallel = 16

// Entry is one VM found by List.
type Entry struct {
	Info
	// Err says why the VM did not answer; then Info has only Name, PID
	// (from the lock file, 0 if unknown) and State StateUnresponsive.
	Err error `json:"-"`
}

// List returns the live VMs in dir, sorted by name. It removes the files of
// VMs that died (see lock.go) and asks each live one for its Info, all at
// once, each within ListTimeout: a VM that does not answer is listed as
// StateUnresponsive, and never makes List fail or hang. A missing dir
// means no VMs.
func List(ctx context.Context, dir string) ([]Entry, error) {
	return ListWithin(ctx, dir, ListTimeout)
}

// ListWithin is List with each VM's answer awaited for timeout instead.
func ListWithin(ctx context.Context, dir string, timeout time.Duration) ([]Entry, error) {
	if err := checkDir(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("control: list %s: %w", dir, err)
	}
	var names []string
	for _, de := range des {
		base, ok := strings.CutSuffix(de.Name(), ".sock")
		if !ok {
			base, ok = strings.CutSuffix(de.Name(), ".lock")
		}
		if ok && ValidName(base) == nil {
			names = append(names, base)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)

	entries := make([]*Entry, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, listParallel)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			entries[i], errs[i] = probe(ctx, dir, name, timeout)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("control: list %s: %w", dir, err)
	}
	var out []Entry
	for i, e := range entries {
		if errs[i] != nil {
			// A name we could not even check (say, an unreadable lock
			// file) is reported like a VM that did not answer.
			out = append(out, Entry{Info: Info{Name: names[i], State: StateUnresponsive}, Err: errs[i]})
		} else if e != nil {
			out = append(out, *e)
		}
	}
	return out, nil
}

// probe reaps name if it is dead (nil entry) or asks it for its Info.
func probe(ctx context.Context, dir, name string, timeout time.Duration) (*Entry, error) {
	sock, lock, err := paths(dir, name)
	if err != nil {
		return nil, err
	}
	alive, pid, err := reap(sock, lock)
	if err != nil || !alive {
		return nil, err
	}
	c := &Client{name: name, dir: dir, sock: sock, Timeout: timeout}
	info, err := c.Info(ctx)
	if err != nil {
		return &Entry{Info: Info{Name: name, PID: pid, State: StateUnresponsive}, Err: err}, nil
	}
	if info.Name == "" {
		info.Name = name
	}
	return &Entry{Info: info}, nil
}
