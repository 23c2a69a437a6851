package nested

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gluevmm/glue/test/nested/plan"
)

// Session gets through a plan on as many boots of the outer machine as
// its wedges need. Under QEMU's emulated nested SVM the whole outer
// machine sometimes locks up while glue (or QEMU) runs a VM: its CPUs
// report soft lockups and nothing more happens, so the outer init cannot
// time the attempt out itself. The watchdog kills such a machine, the
// attempt counts as a stall, and a fresh machine goes on from there; the
// same goes for a machine that an outer CPU's triple fault reset.
type Session struct {
	Machine Machine // Initrd and Console are set per boot
	Outer   *Outer  // its Plan is set per boot
	Dir     string
	// Boots are the outer boots' consoles, in order, and whether each
	// wedged.
	Boots []OuterBoot
}

// OuterBoot is one boot of the outer machine.
type OuterBoot struct {
	Console string
	Wedged  bool
}

// Run runs p and returns what all boots reported.
func (s *Session) Run(ctx context.Context, p plan.Plan, progress func(string)) (*Outcome, error) {
	o := NewOutcome()
	maxBoots := 1 + len(p.Scenarios)*plan.Attempts
	if p.Compare != nil {
		maxBoots = 1 + 2*p.Compare.Boots
	}
	for n := 1; n <= maxBoots && ctx.Err() == nil; n++ {
		bp, more := nextPlan(p, o)
		if !more {
			break
		}
		s.Outer.Plan = bp
		m := s.Machine
		m.Initrd = filepath.Join(s.Dir, fmt.Sprintf("outer-%d.cpio", n))
		m.Console = filepath.Join(s.Dir, fmt.Sprintf("console-%d.log", n))
		if err := s.Outer.Write(m.Initrd); err != nil {
			return o, err
		}
		compared := len(o.Compared)
		wedged, err := m.Boot(ctx, o, progress)
		if err != nil {
			return o, err
		}
		s.Boots = append(s.Boots, OuterBoot{Console: m.Console, Wedged: wedged})
		if !wedged {
			break
		}
		if p.Compare != nil && o.readyInBoot {
			// The boot under way when the machine wedged is a stall.
			k := bp.Compare.From + len(o.Compared) - compared
			round, vmm := plan.Slot(k)
			o.Compared = append(o.Compared, plan.Boot{VMM: vmm, Round: round, Stalled: true, Wedged: true,
				Last: o.Wedges[len(o.Wedges)-1]})
		}
		if progress != nil {
			progress(fmt.Sprintf("outer machine %d wedged or was reset (%s); booting a fresh one", n,
				strings.Join(o.Wedges[len(o.Wedges)-1], "; ")))
		}
	}
	return o, nil
}

// nextPlan is what a fresh machine has to do after o: everything at
// first; after a wedge, the scenario it wedged in at its next attempt (or
// the one after it, if that was its last) and the rest, or the
// comparison's remaining boots. false: nothing is left.
func nextPlan(p plan.Plan, o *Outcome) (plan.Plan, bool) {
	if p.Compare != nil {
		c := *p.Compare
		c.From = len(o.Compared)
		p.Compare = &c
		return p, c.From < 2*c.Boots
	}
	p.Attempt = map[string]int{}
	for i, name := range p.Scenarios {
		as := o.Attempts[name]
		if len(as) == 0 {
			p.Scenarios = p.Scenarios[i:]
			return p, true
		}
		// The outer init runs the scenarios in order, so the first whose
		// last attempt wedged is where the last machine stopped.
		if a := as[len(as)-1]; a.Wedged {
			if a.Number < plan.Attempts {
				p.Attempt[name] = a.Number + 1
				p.Scenarios = p.Scenarios[i:]
			} else {
				p.Scenarios = p.Scenarios[i+1:]
			}
			return p, len(p.Scenarios) > 0
		}
	}
	return p, false
}
