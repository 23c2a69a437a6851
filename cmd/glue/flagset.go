package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// flagSet is a flag.FlagSet with what glue's command line needs on top:
// a short and a long name for one flag (-c and --cpus set the same Value;
// the flag package accepts -x and --x alike), errors that name the flag by
// its long name as usage errors (exit status 2), and help in the
// "-c, --cpus N  text (default 1)" form.
type flagSet struct {
	fs      *flag.FlagSet
	cmdline string // "glue run", for messages
	specs   []*flagSpec
	byName  map[string]*flagSpec // long and short names
	refused error                // the value a flag refused, naming the flag
}

// flagSpec is one flag as help shows it; its usage text is the
// flag.Flag's.
type flagSpec struct {
	long, short string
	def         string // the default as registered; help shows none for "", "0" and "false"
	optional    bool   // the value may be left out: --rng or --rng=SPEC
	hidden      bool   // in no help (-vv, which -v's text explains)
	global      bool   // one of the flags every subcommand takes
}

func newFlagSet(cmdline string) *flagSet {
	fs := flag.NewFlagSet(cmdline, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // glue prints its own one-line errors and help
	return &flagSet{fs: fs, cmdline: cmdline, byName: map[string]*flagSpec{}}
}

// Var registers v as --long and, unless short is "", as -short. usage
// names the flag's argument in back quotes, as the flag package's does.
func (s *flagSet) Var(v flag.Value, long, short, usage string) *flagSpec {
	spec := &flagSpec{long: long, short: short, def: v.String()}
	s.add(spec, v, usage)
	return spec
}

func (s *flagSet) add(spec *flagSpec, v flag.Value, usage string) {
	nv := namedValue{Value: v, long: spec.long, set: s}
	for _, name := range []string{spec.long, spec.short} {
		if name != "" {
			s.fs.Var(nv, name, usage)
			s.byName[name] = spec
		}
	}
	s.specs = append(s.specs, spec)
}

func (s *flagSet) IntVar(p *int, long, short string, def int, usage string) {
	*p = def
	s.Var(intValue{p}, long, short, usage)
}

func (s *flagSet) StringVar(p *string, long, short, def, usage string) {
	*p = def
	s.Var(stringValue{p}, long, short, usage)
}

func (s *flagSet) BoolVar(p *bool, long, short, usage string) {
	*p = false
	s.Var(boolValue{p}, long, short, usage)
}

func (s *flagSet) DurationVar(p *time.Duration, long string, def time.Duration, usage string) {
	*p = def
	s.Var(durationValue{p}, long, "", usage)
}

// ListVar registers a repeatable flag: each use appends to *p.
func (s *flagSet) ListVar(p *[]string, long, short, usage string) {
	*p = nil
	s.Var(listValue{p}, long, short, usage)
}

// OptionalVar registers --long[=VALUE]: alone, it sets *p to bare.
func (s *flagSet) OptionalVar(p *string, long, def, bare, usage string) {
	*p = def
	s.Var(optionalValue{p: p, bare: bare}, long, "", usage).optional = true
}

// CountVar registers a flag that counts its uses.
func (s *flagSet) CountVar(p *int, long, short, usage string) {
	*p = 0
	s.Var(countValue{p: p, step: 1}, long, short, usage)
}

// inherit registers parent's flags, with the same Values and defaults,
// as global flags of s: the global flags parsed after a subcommand set
// what they set before it.
func (s *flagSet) inherit(parent *flagSet) {
	for _, p := range parent.specs {
		f := parent.fs.Lookup(p.long)
		spec := *p
		spec.global = true
		s.add(&spec, f.Value.(namedValue).Value, f.Usage)
	}
}

// parse parses args; what follows the flags is left in s.fs.Args().
func (s *flagSet) parse(args []string) error {
	err := s.fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case s.refused != nil:
		return s.refused
	}
	// The flag package's other errors name the flag as typed, with one
	// dash; they read better with its long name, as glue's others do.
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return usageErrorf("unknown flag %s (%s -h lists the flags)", dashed(name), s.cmdline)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok && s.byName[name] != nil {
		return usageErrorf("--%s: needs a value", s.byName[name].long)
	}
	return usageError{err}
}

// dashed writes a flag's name as it is usually typed: -c, --cpus.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// changed reports whether the flag named long was given.
func (s *flagSet) changed(long string) bool {
	given := false
	s.fs.Visit(func(f *flag.Flag) {
		if s.byName[f.Name].long == long {
			given = true
		}
	})
	return given
}

// value returns the flag named long's value as text.
func (s *flagSet) value(long string) string {
	return s.fs.Lookup(long).Value.String()
}

// usage returns the flag named long's usage text, for markLeftOutFlags to
// add to; nil if there is no such flag.
func (s *flagSet) usage(long string) *string {
	f := s.fs.Lookup(long)
	if f == nil {
		return nil
	}
	return &f.Usage
}

// namedValue is a flag's Value as registered: a value it refuses becomes
// the flagSet's usage error, naming the flag by its long name.
type namedValue struct {
	flag.Value
	long string
	set  *flagSet
}

func (v namedValue) Set(s string) error {
	err := v.Value.Set(s)
	if err != nil {
		v.set.refused = usageErrorf("--%s: %v", v.long, err)
	}
	return err
}

// IsBoolFlag tells the flag package that the flag may stand alone.
func (v namedValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// helpWidth is the width help text is wrapped to; helpColumn is where
// flags' texts start at most (a longer flag has its text on the next line).
const (
	helpWidth  = 80
	helpColumn = 32
)

// writeFlags writes the global flags, or the others, one per line:
// "  -c, --cpus N   text (default 1)", wrapped to helpWidth.
func (s *flagSet) writeFlags(w io.Writer, global bool) {
	type row struct{ left, text string }
	var rows []row
	col := 0
	for _, spec := range s.specs {
		if spec.hidden || spec.global != global {
			continue
		}
		arg, text := flag.UnquoteUsage(s.fs.Lookup(spec.long))
		left := "      --" + spec.long
		if spec.short != "" {
			left = "  -" + spec.short + ", --" + spec.long
		}
		switch {
		case spec.optional:
			left += "[=" + arg + "]"
		case arg != "":
			left += " " + arg
		}
		if spec.def != "" && spec.def != "0" && spec.def != "false" {
			text += " (default " + spec.def + ")"
		}
		rows = append(rows, row{left, text})
		if n := len(left) + 2; n <= helpColumn {
			col = max(col, n)
		}
	}
	if col == 0 {
		col = helpColumn
	}
	indent := strings.Repeat(" ", col)
	for _, r := range rows {
		lines := wrap(r.text, helpWidth-col)
		if len(r.left)+2 > col {
			fmt.Fprintf(w, "%s\n", r.left)
		} else {
			fmt.Fprintf(w, "%-*s%s\n", col, r.left, lines[0])
			lines = lines[1:]
		}
		for _, l := range lines {
			fmt.Fprintf(w, "%s%s\n", indent, l)
		}
	}
}

// wrap breaks text into lines of at most width characters where it can,
// never inside square brackets: a note such as "[virtio-net is not in this
// build: glue_no_net]" stays on one line, for grep.
func wrap(text string, width int) []string {
	var words []string
	depth := 0
	for _, w := range strings.Fields(text) {
		if depth > 0 {
			words[len(words)-1] += " " + w
		} else {
			words = append(words, w)
		}
		depth = max(0, depth+strings.Count(w, "[")-strings.Count(w, "]"))
	}
	var lines []string
	line := ""
	for _, word := range words {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) > width:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	return append(lines, line)
}
