package main

import (
	"fmt"
	"strconv"
	"time"
)

// The flag.Value types of glue's flags. Their errors say what was wrong
// with the value; flagSet adds the flag's name.

type intValue struct{ p *int }

func (v intValue) String() string { return strconv.Itoa(*v.p) }

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v.p = n
	return nil
}

type stringValue struct{ p *string }

func (v stringValue) String() string     { return *v.p }
func (v stringValue) Set(s string) error { *v.p = s; return nil }

type boolValue struct{ p *bool }

func (v boolValue) String() string   { return strconv.FormatBool(*v.p) }
func (v boolValue) IsBoolFlag() bool { return true } // -x alone sets it

func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v.p = b
	return nil
}

type durationValue struct{ p *time.Duration }

func (v durationValue) String() string { return v.p.String() }

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (e.g. 500ms, 5s, 2m)", s)
	}
	*v.p = d
	return nil
}

// listValue is a repeatable flag: each use appends.
type listValue struct{ p *[]string }

func (v listValue) String() string     { return "" }
func (v listValue) Set(s string) error { *v.p = append(*v.p, s); return nil }

// optionalValue is a flag whose value may be left out: --rng alone is
// --rng=on. As with a bool flag, a value must then be joined with "=".
type optionalValue struct {
	p    *string
	bare string // what the flag alone means
}

func (v optionalValue) String() string   { return *v.p }
func (v optionalValue) IsBoolFlag() bool { return true }

func (v optionalValue) Set(s string) error {
	if s == "true" { // the flag package's word for "given alone"
		s = v.bare
	}
	*v.p = s
	return nil
}

// countValue counts: each -v adds step (-vv is a flag of its own that adds
// 2); --verbose=N sets N.
type countValue struct {
	p    *int
	step int
}

func (v countValue) String() string   { return strconv.Itoa(*v.p) }
func (v countValue) IsBoolFlag() bool { return true }

func (v countValue) Set(s string) error {
	if s == "true" {
		*v.p += v.step
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a count", s)
	}
	*v.p = n
	return nil
}
