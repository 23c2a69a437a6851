package main

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/control"
)

// probe is what a test subcommand saw once its flags were parsed.
type probe struct {
	ran          bool
	cpus         int
	disks        []string
	rng          string
	detach       bool
	cpusChanged  bool
	replyChanged bool
	g            globals
}

// probeCommands is a command table with one subcommand, "probe" (alias
// "pr"), that records its flags and the global ones in p.
func probeCommands(p *probe) []command {
	return []command{{
		name:    "probe",
		alias:   "pr",
		summary: "Record the flags",
		setup: func(fl *flagSet, g *globals) func(context.Context) error {
			fl.IntVar(&p.cpus, "cpus", "c", 1, "`N` vCPUs")
			fl.ListVar(&p.disks, "disk", "d", "disk `SPEC` (repeatable)")
			fl.OptionalVar(&p.rng, "rng", "off", "on", "entropy: `SPEC` is on, off or transport=T")
			fl.BoolVar(&p.detach, "detach", "", "run in the background")
			return func(context.Context) error {
				p.ran = true
				p.cpusChanged = fl.changed("cpus")
				p.replyChanged = g.changed("reply-timeout")
				p.g = *g
				return nil
			}
		},
	}}
}

func TestParseCommandLine(t *testing.T) {
	t.Parallel()
	defaults := probe{ran: true, cpus: 1, rng: "off", g: globals{replyTimeout: control.DefaultTimeout}}
	with := func(change func(*probe)) probe {
		p := defaults
		change(&p)
		return p
	}
	tests := []struct {
		name string
		args []string
		want probe
	}{
		{"defaults", []string{"probe"}, defaults},
		{"the alias", []string{"pr"}, defaults},
		{"short name", []string{"probe", "-c", "2"}, with(func(p *probe) { p.cpus, p.cpusChanged = 2, true })},
		{"long name", []string{"probe", "--cpus", "3"}, with(func(p *probe) { p.cpus, p.cpusChanged = 3, true })},
		{"long name with =", []string{"probe", "--cpus=4"}, with(func(p *probe) { p.cpus, p.cpusChanged = 4, true })},
		{"the default given is changed", []string{"probe", "-c", "1"}, with(func(p *probe) { p.cpusChanged = true })},
		{"repeated, short and long", []string{"probe", "-d", "a", "--disk", "b", "-d", "c"}, with(func(p *probe) { p.disks = []string{"a", "b", "c"} })},
		{"optional value left out", []string{"probe", "--rng"}, with(func(p *probe) { p.rng = "on" })},
		{"optional value given", []string{"probe", "--rng=transport=mmio"}, with(func(p *probe) { p.rng = "transport=mmio" })},
		{"bool", []string{"probe", "--detach"}, with(func(p *probe) { p.detach = true })},
		{"bool =false", []string{"probe", "--detach=false"}, defaults},
		{"-v", []string{"probe", "-v"}, with(func(p *probe) { p.g.verbose = 1 })},
		{"-vv", []string{"probe", "-vv"}, with(func(p *probe) { p.g.verbose = 2 })},
		{"-v before and after", []string{"-v", "probe", "--verbose"}, with(func(p *probe) { p.g.verbose = 2 })},
		{"-vv before, -v after", []string{"-vv", "probe", "-v"}, with(func(p *probe) { p.g.verbose = 3 })},
		{"global before", []string{"--runtime-dir", "/d", "--reply-timeout", "1s", "probe"},
			with(func(p *probe) { p.g.runtimeDir, p.g.replyTimeout, p.replyChanged = "/d", time.Second, true })},
		{"global after", []string{"probe", "-c", "2", "--runtime-dir", "/d", "--reply-timeout=2s"},
			with(func(p *probe) {
				p.cpus, p.cpusChanged = 2, true
				p.g.runtimeDir, p.g.replyTimeout, p.replyChanged = "/d", 2*time.Second, true
			})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got probe
			var out bytes.Buffer
			if err := execute(context.Background(), probeCommands(&got), tc.args, &out); err != nil {
				t.Fatalf("glue %v: %v", tc.args, err)
			}
			got.g.sets = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("glue %v:\n got %+v\nwant %+v", tc.args, got, tc.want)
			}
			if out.Len() > 0 {
				t.Errorf("glue %v printed %q", tc.args, out.String())
			}
		})
	}
}

// Bad input is a usage error (exit status 2) whose one line names the
// flag, and nothing runs.
func TestParseCommandLineRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--frobnicate"}, "unknown flag --frobnicate (glue -h lists the flags)"},
		{[]string{"probe", "--frobnicate"}, "unknown flag --frobnicate (glue probe -h lists the flags)"},
		{[]string{"probe", "-x"}, "unknown flag -x"},
		{[]string{"probe", "-c"}, "--cpus: needs a value"},
		{[]string{"probe", "--cpus"}, "--cpus: needs a value"},
		{[]string{"probe", "-c", "two"}, `--cpus: "two" is not a whole number`},
		{[]string{"probe", "--detach=maybe"}, `--detach: "maybe" is not true or false`},
		{[]string{"probe", "--reply-timeout", "soon"}, `--reply-timeout: "soon" is not a duration`},
		{[]string{"--reply-timeout", "soon", "probe"}, `--reply-timeout: "soon" is not a duration`},
		{[]string{"probe", "--verbose=lots"}, `--verbose: "lots" is not a count`},
		{[]string{"probe", "extra"}, `unexpected argument "extra": glue probe takes flags only`},
		{[]string{"probe", "-c", "2", "extra", "-v"}, `unexpected argument "extra"`},
		{[]string{"probe", "--", "-c"}, `unexpected argument "-c"`},
		{[]string{"probe", "---c"}, "bad flag syntax: ---c"},
		{[]string{"probe", "--rng", "on"}, `unexpected argument "on"`}, // an optional value takes "="
		{[]string{"nope"}, `unknown subcommand "nope" (glue help lists them)`},
		{[]string{"help", "nope"}, `help: unknown subcommand "nope"`},
		{[]string{"help", "probe", "more"}, `help: unexpected argument "more"`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			var p probe
			var out bytes.Buffer
			err := execute(context.Background(), probeCommands(&p), tc.args, &out)
			var ue usageError
			if !errors.As(err, &ue) || exitStatus(err) != exitUsage {
				t.Fatalf("glue %v: %v (exit %d), want a usage error (exit %d)", tc.args, err, exitStatus(err), exitUsage)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("glue %v: %q, want one line with %q", tc.args, msg, tc.want)
			}
			if p.ran || out.Len() > 0 {
				t.Errorf("glue %v: ran %v, printed %q", tc.args, p.ran, out.String())
			}
		})
	}
}

// -h, --help and `glue help` print help to stdout, in either place and
// spelling, and run nothing; -V prints the version.
func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	probeHelp := []string{"Record the flags", "Usage:\n  glue probe|pr [FLAGS]\n", "  -c, --cpus N", "(default 1)", "--rng[=SPEC]", "Global flags", "  -v, --verbose"}
	rootHelp := []string{"Subcommands:\n", "  probe, pr  Record the flags\n", "  -V, --version", "--reply-timeout DURATION"}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{}, rootHelp},
		{[]string{"-h"}, rootHelp},
		{[]string{"--help"}, rootHelp},
		{[]string{"help"}, rootHelp},
		{[]string{"probe", "-h"}, probeHelp},
		{[]string{"probe", "--help", "-c", "2"}, probeHelp},
		{[]string{"-h", "probe"}, probeHelp},
		{[]string{"help", "probe"}, probeHelp},
		{[]string{"help", "pr"}, probeHelp},
		{[]string{"-V"}, []string{"glue " + baseVersion}},
		{[]string{"probe", "-V"}, []string{"glue " + baseVersion}},
		{[]string{"-V", "probe", "-v"}, []string{"glue " + baseVersion, "\ncomponents: "}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			var p probe
			var out bytes.Buffer
			if err := execute(context.Background(), probeCommands(&p), tc.args, &out); err != nil {
				t.Fatalf("glue %v: %v", tc.args, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("glue %v: output lacks %q:\n%s", tc.args, w, out.String())
				}
			}
			if strings.Contains(out.String(), "--vv") {
				t.Errorf("glue %v lists -vv as a flag of its own:\n%s", tc.args, out.String())
			}
			if n := strings.Count(out.String(), "--verbose"); strings.Contains(out.String(), "Usage:") && n != 1 {
				t.Errorf("glue %v lists --verbose %d times, want once:\n%s", tc.args, n, out.String())
			}
			if p.ran {
				t.Errorf("glue %v ran the subcommand", tc.args)
			}
		})
	}
}

// The flag list's layout: short and long name, the argument named in the
// usage text, the default, texts in one column and wrapped, a flag too
// long for the column with its text on the next line, a bracketed note
// (markLeftOutFlags') unbroken.
func TestWriteFlags(t *testing.T) {
	t.Parallel()
	fs := newFlagSet("glue test")
	var n int
	var s, o, long string
	var b bool
	var l []string
	fs.IntVar(&n, "cpus", "c", 1, "`N` vCPUs")
	fs.StringVar(&s, "kernel", "k", "", "kernel image in `FILE`")
	fs.ListVar(&l, "disk", "d", "raw disk image as a virtio-blk device: `SPEC` is FILE or path=FILE,ro=on (repeatable)")
	fs.OptionalVar(&o, "rng", "off", "on", "virtio-rng: `SPEC` is on, off or transport=T")
	fs.BoolVar(&b, "detach", "", "run in the background")
	fs.StringVar(&long, "a-flag-with-a-long-name", "", "x", "its `ARGUMENT`")
	fs.ListVar(&l, "net", "", "virtio-net on a tap: `SPEC` is tap=NAME[,mac=MAC] [virtio-net is not in this build: glue_no_net]")
	var out bytes.Buffer
	fs.writeFlags(&out, false)
	want := `  -c, --cpus N       N vCPUs (default 1)
  -k, --kernel FILE  kernel image in FILE
  -d, --disk SPEC    raw disk image as a virtio-blk device: SPEC is FILE or
                     path=FILE,ro=on (repeatable)
      --rng[=SPEC]   virtio-rng: SPEC is on, off or transport=T (default off)
      --detach       run in the background
      --a-flag-with-a-long-name ARGUMENT
                     its ARGUMENT (default x)
      --net SPEC     virtio-net on a tap: SPEC is tap=NAME[,mac=MAC]
                     [virtio-net is not in this build: glue_no_net]
`
	if out.String() != want {
		t.Errorf("writeFlags:\n%s\nwant:\n%s", out.String(), want)
	}
}

// Every subcommand of glue sets up without clashing with the global flags
// (the flag package panics on a name defined twice), and names every
// flag's argument: the flag package would print "value".
func TestEveryCommandHelp(t *testing.T) {
	t.Parallel()
	for _, c := range commandTable() {
		var out bytes.Buffer
		if err := execute(context.Background(), commandTable(), []string{"help", c.name}, &out); err != nil {
			t.Fatalf("glue help %s: %v", c.name, err)
		}
		if strings.Contains(out.String(), " value ") {
			t.Errorf("glue help %s has a flag whose argument has no name:\n%s", c.name, out.String())
		}
	}
}
