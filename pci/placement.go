package pci

import (
	"errors"
	"fmt"
	"slices"
)

// Range is the guest-physical interval [Base, Base+Size).
type Range struct {
	Base, Size uint64
}

func (r Range) String() string { return fmt.Sprintf("%#x+%#x", r.Base, r.Size) }

// valid reports whether the range is non-empty and does not wrap past 2^64.
func (r Range) valid() bool { return r.Size != 0 && r.Base+r.Size-1 >= r.Base }

// contains reports whether o lies entirely inside r. Both must be valid.
func (r Range) contains(o Range) bool {
	return o.Base >= r.Base && o.Size <= r.Size && o.Base-r.Base <= r.Size-o.Size
}

// overlaps reports whether r and o share a byte. Both must be valid.
func (r Range) overlaps(o Range) bool {
	return r.Base <= o.Base+o.Size-1 && o.Base <= r.Base+r.Size-1
}

// Reasons a BAR placement is refused; BARRejected receives one of them, wrapped.
var (
	ErrOutsideWindows   = errors.New("outside every BAR window")
	ErrOverlapsReserved = errors.New("overlaps a reserved range")
	ErrOverlapsBAR      = errors.New("overlaps another BAR")
)

// BARMove describes a guest's attempt to move a BAR: Old is where the BAR is
// decoded now, New where the guest's register value puts it.
type BARMove struct {
	Slot     Slot
	Function *Function
	BAR      int
	Old, New uint64
	Size     uint64
}

// checkPlacement decides whether BAR bar of f may be decoded at want: inside
// one window, clear of every reserved range and of every other BAR's current
// mapping. The caller holds r.mu.
func (r *Root) checkPlacement(f *Function, bar int, want Range) error {
	if !want.valid() {
		return fmt.Errorf("range %v: %w", want, ErrOutsideWindows)
	}
	inside := false
	for _, w := range r.cfg.Windows {
		if w.contains(want) {
			inside = true
			break
		}
	}
	if !inside {
		return fmt.Errorf("range %v: %w", want, ErrOutsideWindows)
	}
	for _, res := range r.cfg.Reserved {
		if res.overlaps(want) {
			return fmt.Errorf("range %v and %v: %w", want, res, ErrOverlapsReserved)
		}
	}
	fns := r.functions()
	if !slices.Contains(fns, f) {
		fns = append(fns, f) // being attached: its own BARs must not overlap either
	}
	for _, other := range fns {
		for i, m := range other.mappedBARs() {
			if m.Size == 0 || (other == f && i == bar) {
				continue
			}
			if m.overlaps(want) {
				return fmt.Errorf("range %v and BAR %d of %v at %v: %w", want, i, other.slotOf(), m, ErrOverlapsBAR)
			}
		}
	}
	return nil
}

// placeBARs moves every BAR of f whose register disagrees with its mapping,
// when the new place is valid, and reports the refused ones. The caller holds
// r.mu, so placement decisions of different functions never interleave.
func (r *Root) placeBARs(f *Function) {
	for i, want := range f.programmedBARs() {
		if want.Size == 0 {
			continue
		}
		old := f.mappedBARs()[i]
		if old.Base == want.Base {
			continue
		}
		mv := BARMove{Slot: f.slotOf(), Function: f, BAR: i, Old: old.Base, New: want.Base, Size: want.Size}
		if err := r.checkPlacement(f, i, want); err != nil {
			if r.cfg.BARRejected != nil {
				r.cfg.BARRejected(mv, fmt.Errorf("pci: move BAR %d of %v to %#x: %w", i, mv.Slot, want.Base, err))
			}
			continue
		}
		f.setMapped(i, want.Base)
		if r.cfg.BARMoved != nil {
			r.cfg.BARMoved(mv)
		}
	}
}
