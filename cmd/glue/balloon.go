package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/gluevmm/glue/control"
)

func balloonCommand() command {
	return command{
		name:    "balloon",
		args:    "-n NAME [--target SIZE] [--json]",
		summary: "Show a VM's balloon and the guest's memory statistics, or set the balloon's target",
		long: `Show the balloon of a VM started with --balloon: its target (how much memory
the host asked the guest to give up), how much the guest has given up
(actual), what went back to the host, and the guest's latest memory
statistics. With --target, set the target first: the guest gives that
much memory back to the host (--target 0 returns it all to the guest).
The guest follows in its own time; run glue balloon again to watch actual.`,
		setup: setupBalloon,
	}
}

func setupBalloon(fl *flagSet, g *globals) func(context.Context) error {
	var name, target string
	var asJSON bool
	fl.StringVar(&name, "name", "n", "", "`NAME` of the VM")
	fl.StringVar(&target, "target", "", "", "memory the balloon takes from the guest: `SIZE` in MiB, or with an M or G suffix")
	fl.BoolVar(&asJSON, "json", "", "print the balloon as JSON (the control protocol's balloon object)")
	return func(ctx context.Context) error {
		if err := requireName(name, "glue list"); err != nil {
			return err
		}
		var targetMiB *uint64
		if fl.changed("target") {
			mib, err := parseMiB(target)
			if err != nil {
				return usageErrorf("--target: %v", err)
			}
			targetMiB = &mib
		}
		c, err := g.dialVM(name)
		if err != nil {
			return err
		}
		st, err := c.Balloon(ctx, targetMiB)
		if err != nil {
			var e *control.Error
			if targetMiB != nil && errors.As(err, &e) && e.Code == control.CodeBadRequest {
				return usageErrorf("--target: %s", e.Message)
			}
			return err
		}
		if asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}
		printBalloon(os.Stdout, st)
		return nil
	}
}

// statIsBytes names the statistics that are amounts of memory.
var statIsBytes = []string{"free-memory", "total-memory", "available-memory", "disk-caches"}

func printBalloon(out io.Writer, st control.BalloonStatus) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	mib := func(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	fmt.Fprintf(w, "target\t%s\n", mib(st.TargetBytes))
	fmt.Fprintf(w, "actual\t%s\n", mib(st.ActualBytes))
	fmt.Fprintf(w, "inflated\t%s\treturned to the host from the inflate queue\n", mib(st.InflatedBytes))
	fmt.Fprintf(w, "deflated\t%s\ttaken back by the guest\n", mib(st.DeflatedBytes))
	fmt.Fprintf(w, "reported\t%s\treported free by the guest and returned to the host\n", mib(st.ReportedBytes))
	if st.BadPages > 0 || st.Malformed > 0 {
		fmt.Fprintf(w, "refused\t%d pages outside RAM, %d malformed buffers\n", st.BadPages, st.Malformed)
	}
	if st.Stats == nil {
		fmt.Fprintf(w, "stats\tnone reported\n")
	}
	names := make([]string, 0, len(st.Stats))
	for n := range st.Stats {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		v := fmt.Sprint(st.Stats[n])
		if slices.Contains(statIsBytes, n) {
			v = mib(st.Stats[n])
		}
		fmt.Fprintf(w, "%s\t%s\n", n, v)
	}
	w.Flush()
}
