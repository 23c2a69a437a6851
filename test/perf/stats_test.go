package perf

import (
	"fmt"
	"slices"
)

// sample is the set of values one metric took over the runs.
type sample []float64

func (s sample) sorted() []float64 { return slices.Sorted(slices.Values(s)) }

// median of the values; 0 for none.
func (s sample) median() float64 {
	v := s.sorted()
	switch n := len(v); {
	case n == 0:
		return 0
	case n%2 == 1:
		return v[n/2]
	default:
		return (v[n/2-1] + v[n/2]) / 2
	}
}

func (s sample) min() float64 { return slices.Min(s) }
func (s sample) max() float64 { return slices.Max(s) }

// summary renders "median (min–max)" with the given verb, e.g. "%.1f".
func (s sample) summary(verb string) string {
	if len(s) == 0 {
		return "–"
	}
	return fmt.Sprintf(verb+" ("+verb+"–"+verb+")", s.median(), s.min(), s.max())
}
