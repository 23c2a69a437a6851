package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// glue's command line is parsed by the standard library's flag package,
// with flagSet (flagset.go) for short and long names and help, and this
// file for subcommands: `glue [FLAGS] SUBCOMMAND [FLAGS]`, where the global
// flags may come before or after the subcommand. It replaced cobra and
// pflag: pflag imports net (for its IP flags), which makes `go build` link
// cgo and the C library into glue.

// command is one subcommand of glue.
type command struct {
	name    string
	alias   string // another name for it ("ls"), or ""
	args    string // what follows the name in help's usage line; "[FLAGS]" if ""
	summary string // one line, in `glue help`
	long    string // `glue help NAME`; the summary if ""
	example string
	// setup registers the subcommand's flags on fs and returns what runs
	// it once they are parsed; it takes no arguments besides the flags.
	setup func(fs *flagSet, g *globals) func(ctx context.Context) error
}

// execute runs the command line args with the subcommands cmds; help and
// the version go to stdout.
func execute(ctx context.Context, cmds []command, args []string, stdout io.Writer) error {
	g := &globals{}
	root := newFlagSet("glue")
	g.register(root)
	if err := root.parse(args); err != nil {
		return err
	}
	g.sets = []*flagSet{root}
	rest := root.fs.Args()
	switch {
	case len(rest) == 0 && g.version && !g.help:
		writeVersion(stdout, g)
		return nil
	case len(rest) == 0:
		writeRootHelp(stdout, root, cmds)
		return nil
	case rest[0] == "help":
		return help(stdout, root, cmds, rest[1:])
	}
	c := findCommand(cmds, rest[0])
	if c == nil {
		return usageErrorf("unknown subcommand %q (glue help lists them)", rest[0])
	}
	fs := newFlagSet("glue " + c.name)
	run := c.setup(fs, g)
	fs.inherit(root)
	if err := fs.parse(rest[1:]); err != nil {
		return err
	}
	g.sets = append(g.sets, fs)
	switch {
	case g.help:
		writeCommandHelp(stdout, c, fs)
		return nil
	case g.version:
		writeVersion(stdout, g)
		return nil
	case fs.fs.NArg() > 0:
		return usageErrorf("unexpected argument %q: glue %s takes flags only", fs.fs.Arg(0), c.name)
	}
	return run(ctx)
}

func findCommand(cmds []command, name string) *command {
	for i := range cmds {
		if c := &cmds[i]; name == c.name || name != "" && name == c.alias {
			return c
		}
	}
	return nil
}

// help is `glue help [SUBCOMMAND]`.
func help(stdout io.Writer, root *flagSet, cmds []command, args []string) error {
	switch len(args) {
	case 0:
		writeRootHelp(stdout, root, cmds)
		return nil
	case 1:
		c := findCommand(cmds, args[0])
		if c == nil {
			return usageErrorf("help: unknown subcommand %q (glue help lists them)", args[0])
		}
		fs := newFlagSet("glue " + c.name)
		c.setup(fs, &globals{})
		fs.inherit(root)
		writeCommandHelp(stdout, c, fs)
		return nil
	}
	return usageErrorf("help: unexpected argument %q: glue help takes one subcommand at most", args[1])
}

func writeVersion(w io.Writer, g *globals) {
	fmt.Fprintln(w, versionString())
	if g.verbose > 0 {
		fmt.Fprint(w, buildDetails())
	}
}

func writeRootHelp(w io.Writer, root *flagSet, cmds []command) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  glue [FLAGS] SUBCOMMAND [FLAGS]\n\nSubcommands:\n", rootHelp)
	names := func(c command) string {
		if c.alias != "" {
			return c.name + ", " + c.alias
		}
		return c.name
	}
	col := len("help")
	for _, c := range cmds {
		col = max(col, len(names(c)))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", col, names(c), c.summary)
	}
	fmt.Fprintf(w, "  %-*s  %s\n", col, "help", "Print this help, or a subcommand's (glue help SUBCOMMAND)")
	fmt.Fprintf(w, "\nFlags, before or after the subcommand:\n")
	root.writeFlags(w, true)
	fmt.Fprintf(w, "\n'glue SUBCOMMAND -h' prints a subcommand's flags.\n")
}

func writeCommandHelp(w io.Writer, c *command, fs *flagSet) {
	text := c.long
	if text == "" {
		text = c.summary
	}
	args := c.args
	if args == "" {
		args = "[FLAGS]"
	}
	names := c.name
	if c.alias != "" {
		names += "|" + c.alias
	}
	fmt.Fprintf(w, "%s\n\nUsage:\n  glue %s %s\n", text, names, args)
	if c.example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(c.example, "\n"))
	}
	fmt.Fprintf(w, "\nFlags:\n")
	fs.writeFlags(w, false)
	fmt.Fprintf(w, "\nGlobal flags, also before the subcommand:\n")
	fs.writeFlags(w, true)
}
