package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gluevmm/glue/control"
)

func newListCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List this user's VMs",
		Long: `List the VMs in the runtime directory: NAME, PID, STATE (running, paused,
stopping, or unresponsive for a VM that holds its name but does not answer),
CPUS, MEM, UPTIME and KERNEL. VMs whose process died are cleaned up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.dir()
			if err != nil {
				return err
			}
			entries, err := control.List(cmd.Context(), dir)
			if err != nil {
				return err
			}
			if asJSON {
				infos := make([]control.Info, 0, len(entries))
				for _, e := range entries {
					infos = append(infos, e.Info)
				}
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(infos)
			}
			return printTable(entries)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	return cmd
}

func printTable(entries []control.Entry) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tPID\tSTATE\tCPUS\tMEM\tUPTIME\tKERNEL")
	for _, e := range entries {
		if e.Err != nil {
			fmt.Fprintf(w, "%s\t%d\t%s\t-\t-\t-\t-\n", e.Name, e.PID, e.State)
			continue
		}
		kernel := e.Kernel
		if kernel == "" {
			kernel = "(built-in guest)"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%dM\t%s\t%s\n", e.Name, e.PID, e.State, e.CPUs, e.MemMiB, uptime(e.StartedAt), kernel)
	}
	return w.Flush()
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
