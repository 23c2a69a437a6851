package main

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/gluevmm/glue/vmm"
)

// A glue built with tags that leave devices out (docs/building.md) keeps
// their flags: `glue run --disk` in a build without virtio-blk then says
// exactly what is missing and which tag removed it, instead of
// "unknown flag", which would send the user looking for a typo. --help marks
// such flags.

// configFlagError turns a *vmm.ConfigError into a usage error (exit status
// 2) that names the flag setting the field; other errors pass through.
func configFlagError(err error) error {
	var ce *vmm.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	flag, ok := flagOf(ce.Field)
	if !ok {
		return usageError{err} // no flag to name: TestFlagOfEveryField prevents it
	}
	var missing *vmm.MissingComponentError
	if errors.As(ce.Err, &missing) {
		return usageErrorf("%s: %v; see docs/building.md", flag, missing)
	}
	return usageErrorf("%s: %v", flag, ce.Err)
}

// markLeftOutFlags appends to the help of each flag whose component this
// build lacks.
func markLeftOutFlags(fs *flagSet) {
	for _, c := range vmm.Components() {
		if c.Included() {
			continue
		}
		flag, _ := flagOf(c.Field)
		if usage := fs.usage(strings.TrimPrefix(flag, "--")); usage != nil {
			*usage += fmt.Sprintf(" [%s is not in this build: %s]", c.Name, c.LeftOutBy)
		}
	}
}

// buildDetails is what `glue -V -v` prints after the version line: the
// components compiled in, those left out and by which tag, and the build
// tags as the go command recorded them.
func buildDetails() string {
	var in, out []string
	for _, c := range vmm.Components() {
		if c.Included() {
			in = append(in, c.Name)
		} else {
			out = append(out, fmt.Sprintf("%s (%s)", c.Name, c.LeftOutBy))
		}
	}
	tags := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-tags" {
				tags = s.Value
			}
		}
	}
	return fmt.Sprintf("components: %s\nleft out: %s\nbuild tags: %s\n",
		strings.Join(in, ", "), orNone(strings.Join(out, ", ")), orNone(tags))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
