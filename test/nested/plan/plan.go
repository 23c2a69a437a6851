// Package plan is what the nested tier's host side and its outer init
// agree on: where the outer initramfs keeps things, and the plan file
// that names the scenarios to run.
package plan

import "github.com/gluevmm/glue/test/scenario"

// Paths inside the outer initramfs.
const (
	Path          = "/nested/plan.json"
	ModuleDir     = "/lib/modules"
	LoadOrderFile = ModuleDir + "/load-order"
	Glue          = "/bin/glue"
	Kernel        = "/inner/vmlinuz"
	Vmlinux       = "/inner/vmlinux"
	Initrd        = "/inner/initramfs.cpio.gz"
	WorkDir       = "/tmp"
)

// Attempts is how often a stalled scenario runs before it fails.
const Attempts = 2

// Plan is the plan file.
type Plan struct {
	Scenarios []string     // names in scenario.All, run in this order
	Env       scenario.Env // with the paths above
}
