package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/gluevmm/glue/control"
)

// listed is one row of `glue list`: a live VM's Info or, with --all, an
// ended VM's record.
type listed struct {
	control.Info
	Err     error      `json:"-"`
	Status  *int       `json:"status,omitempty"` // ended VMs: exit status, if recorded
	Reason  string     `json:"reason,omitempty"` // ended VMs: why
	EndedAt *time.Time `json:"ended_at,omitempty"`
}

func listCommand() command {
	return command{
		name:    "list",
		alias:   "ls",
		summary: "List this user's VMs",
		long: `List the VMs in the runtime directory: NAME, PID, STATE (running, paused,
stopping, or unresponsive for a VM that holds its name but does not answer),
CPUS, MEM, UPTIME and KERNEL. VMs whose process died are cleaned up.

With --all, VMs that ended are listed too, with STATE ended and an EXIT
column: their exit status and why they ended (as the last line of their
log says; see glue logs). They stay listed until glue rm removes them or
a new VM of the same name replaces them.`,
		setup: setupList,
	}
}

func setupList(fl *flagSet, g *globals) func(context.Context) error {
	var asJSON, all bool
	fl.BoolVar(&asJSON, "json", "", "print a JSON array instead of a table")
	fl.BoolVar(&all, "all", "a", "also list VMs that ended, with their exit status and reason")
	return func(ctx context.Context) error {
		dir, err := g.dir()
		if err != nil {
			return err
		}
		timeout := control.ListTimeout
		if g.changed("reply-timeout") {
			timeout = g.replyTimeout
		}
		entries, err := control.ListWithin(ctx, dir, timeout)
		if err != nil {
			return err
		}
		rows := make([]listed, 0, len(entries))
		for _, e := range entries {
			rows = append(rows, listed{Info: e.Info, Err: e.Err})
		}
		if all {
			ended, err := control.Ended(dir)
			if err != nil {
				return err
			}
			for _, r := range ended {
				rows = append(rows, listed{
					Info:   control.Info{Name: r.Name, PID: r.PID, State: control.StateEnded, StartedAt: r.StartedAt},
					Status: r.Status, Reason: r.Reason, EndedAt: r.EndedAt,
				})
			}
		}
		if asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(rows)
		}
		return printTable(rows, all)
	}
}

func printTable(rows []listed, withExit bool) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	header := "NAME\tPID\tSTATE\tCPUS\tMEM\tUPTIME\tKERNEL"
	if withExit {
		header += "\tEXIT"
	}
	fmt.Fprintln(w, header)
	for _, e := range rows {
		exit := ""
		if withExit {
			exit = "\t-"
		}
		switch {
		case e.State == control.StateEnded:
			fmt.Fprintf(w, "%s\t%d\t%s\t-\t-\t-\t-\t%s\n", e.Name, e.PID, e.State, exitText(e))
			continue
		case e.Err != nil:
			fmt.Fprintf(w, "%s\t%d\t%s\t-\t-\t-\t-%s\n", e.Name, e.PID, e.State, exit)
			continue
		}
		kernel := e.Kernel
		if kernel == "" {
			kernel = "(built-in guest)"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%dM\t%s\t%s%s\n", e.Name, e.PID, e.State, e.CPUs, e.MemMiB, uptime(e.StartedAt), kernel, exit)
	}
	return w.Flush()
}

// exitText is an ended VM's EXIT column: "STATUS: REASON", "?" for a
// status never recorded.
func exitText(e listed) string {
	status := "?"
	if e.Status != nil {
		status = fmt.Sprint(*e.Status)
	}
	return status + ": " + e.Reason
}

// uptime formats time since start, coarsely as ps does.
func uptime(start time.Time) string {
	if start.IsZero() {
		return "-"
	}
	d := time.Since(start).Round(time.Second)
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}
