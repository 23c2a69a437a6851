package perf

import (
	"fmt"
	"slices"
	"strings"
)

// minRounds is how many rounds must agree before a target is called met or
// not met: a figure that does not reproduce across them is reported as a
// range instead.
const minRounds = 3

// rounds is one quantity as measured in each independent round of a
// benchmark: per round, the runs' values per VMM.
type rounds []samples

func newRounds(n int) rounds {
	r := make(rounds, n)
	for i := range r {
		r[i] = samples{}
	}
	return r
}

// add records one run's value of VMM name in round i.
func (r rounds) add(i int, name string, x float64) { r[i][name] = append(r[i][name], x) }

// pooled merges the rounds: all runs of each VMM in one sample.
func (r rounds) pooled() samples {
	all := samples{}
	for _, s := range r {
		for name, xs := range s {
			all[name] = append(all[name], xs...)
		}
	}
	return all
}

// bound is one condition of a target on glue's median: glue ≤ or ≥
// factor × the median of ref, or, with ref "", factor itself (in unit).
type bound struct {
	ref    string // a VMM ("qemu", kvmtoolName, bareName), hostName, or "" for an absolute bound
	atMost bool   // glue ≤ …; else glue ≥ …
	factor float64
	unit   string // of an absolute bound, e.g. "MiB"
	// alt, if set, is judged instead when ref was measured in no round
	// (a peer the suite could not find).
	alt *bound
}

// target is the goal for a row: every bound must hold.
type target []bound

// String renders the target as the table shows it, e.g. "≤ 0.25× QEMU".
func (t target) String() string {
	if len(t) == 0 {
		return "–"
	}
	parts := make([]string, len(t))
	for i, b := range t {
		parts[i] = b.String()
		if b.alt != nil {
			parts[i] += " (without " + refName(b.ref) + ": " + b.alt.String() + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// String renders one bound, e.g. "≤ 0.25× QEMU".
func (b bound) String() string {
	op := "≥"
	if b.atMost {
		op = "≤"
	}
	switch {
	case b.ref == "":
		return fmt.Sprintf("%s %g %s", op, b.factor, b.unit)
	case b.factor == 1:
		return fmt.Sprintf("%s %s", op, refName(b.ref))
	default:
		return fmt.Sprintf("%s %g× %s", op, b.factor, refName(b.ref))
	}
}

// in returns the bound to judge on r: b, or b.alt when b's reference
// was measured in none of the rounds.
func (b bound) in(r rounds) bound {
	if b.alt == nil || b.ref == "" {
		return b
	}
	for _, s := range r {
		if len(s[b.ref]) > 0 {
			return b
		}
	}
	return *b.alt
}

func refName(ref string) string {
	if ref == "qemu" {
		return "QEMU"
	}
	return ref
}

// label names the quantity a bound is checked on, e.g. "glue/QEMU".
func (b bound) label() string {
	if b.ref == "" {
		return "glue (" + b.unit + ")"
	}
	return "glue/" + refName(b.ref)
}

// value is the quantity the bound is checked on in one round: glue's
// median over the reference's, or glue's median itself; ok is false when
// a value is missing or the reference is zero.
func (b bound) value(s samples) (v float64, ok bool) {
	g := s["glue"]
	if len(g) == 0 {
		return 0, false
	}
	if b.ref == "" {
		return g.median(), true
	}
	ref := s[b.ref]
	if len(ref) == 0 || ref.median() == 0 {
		return 0, false
	}
	return g.median() / ref.median(), true
}

func (b bound) holds(v float64) bool {
	if b.atMost {
		return v <= b.factor
	}
	return v >= b.factor
}

// outcome is what the rounds say about a target.
type outcome int

const (
	noTarget        outcome = iota // the row has none
	unjudged                       // a value it needs is missing, or too few rounds
	met                            // in every round
	notMet                         // in no round
	notReproducible                // in some rounds only
)

func (o outcome) String() string {
	return [...]string{"–", "no verdict", "met", "**not met**", "not reproducible"}[o]
}

// verdict judges a target on each round's medians. Only when at least
// minRounds rounds all agree is it met or not met; otherwise the per-round
// values say how far apart they are. values[i][j] is bound i's value in
// round j.
type verdict struct {
	outcome outcome
	target  target
	values  [][]float64
}

func judge(t target, r rounds) verdict {
	v := verdict{target: slices.Clone(t), outcome: noTarget}
	if len(t) == 0 {
		return v
	}
	v.outcome = unjudged
	held := 0
	for i := range v.target {
		v.target[i] = v.target[i].in(r)
	}
	for _, b := range v.target {
		var vals []float64
		for _, s := range r {
			x, ok := b.value(s)
			if !ok {
				return verdict{outcome: unjudged, target: v.target}
			}
			vals = append(vals, x)
		}
		v.values = append(v.values, vals)
	}
	if len(r) < minRounds {
		return v
	}
	for j := range r {
		all := true
		for i, b := range v.target {
			all = all && b.holds(v.values[i][j])
		}
		if all {
			held++
		}
	}
	switch held {
	case len(r):
		v.outcome = met
	case 0:
		v.outcome = notMet
	default:
		v.outcome = notReproducible
	}
	return v
}

// quantities returns the indexes of the target's bounds that judge
// distinct quantities: a ±10 % target bounds glue/configured twice.
func (v verdict) quantities() []int {
	var idx []int
	seen := map[string]bool{}
	for i, b := range v.target {
		if i < len(v.values) && !seen[b.label()] {
			seen[b.label()] = true
			idx = append(idx, i)
		}
	}
	return idx
}

// ranges renders each quantity over the rounds as "glue/QEMU
// 0.21–0.25", or "" if there are none.
func (v verdict) ranges() string {
	var parts []string
	for _, i := range v.quantities() {
		if b := v.target[i]; len(v.values[i]) > 0 {
			s := sample(v.values[i])
			parts = append(parts, fmt.Sprintf("%s %s–%s", b.label(), figure(s.min()), figure(s.max())))
		}
	}
	return strings.Join(parts, ", ")
}

// perRound renders each quantity round by round: "glue/QEMU 0.24,
// 0.21, 0.25".
func (v verdict) perRound() string {
	var parts []string
	for _, i := range v.quantities() {
		vals := make([]string, len(v.values[i]))
		for j, x := range v.values[i] {
			vals[j] = figure(x)
		}
		parts = append(parts, v.target[i].label()+" "+strings.Join(vals, ", "))
	}
	return strings.Join(parts, "; ")
}

// cell is the verdict as the table's last column shows it: the outcome
// and the range of what it was judged on.
func (v verdict) cell() string {
	if r := v.ranges(); r != "" {
		return v.outcome.String() + " (" + r + ")"
	}
	return v.outcome.String()
}

// figure prints a ratio or value with three significant digits.
func figure(x float64) string {
	switch ax := max(x, -x); {
	case ax >= 100:
		return fmt.Sprintf("%.0f", x)
	case ax >= 10:
		return fmt.Sprintf("%.1f", x)
	case ax >= 1:
		return fmt.Sprintf("%.2f", x)
	default:
		return fmt.Sprintf("%.3f", x)
	}
}
