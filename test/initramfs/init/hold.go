package main

import "time"

// holdWait bounds how long init waits for the host in the hold check.
const holdWait = 2 * time.Minute

// holdCheck holds the VM, running, for the host: it prints GLUE-READY
// init hold and waits for a line on the console, which the host types
// once it has looked at the VM from outside (the jail scenario reads the
// VM's cgroup meanwhile).
func holdCheck(r *report, _ map[string]string) {
	r.line("GLUE-READY init hold")
	if err := waitConsoleLine(holdWait); err != nil {
		r.fail("hold", "no word from the host: %v", err)
		return
	}
	r.pass("hold", "released")
}
