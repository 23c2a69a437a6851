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
	RootImage     = "/inner/rootfs.ext4"
	Fsck          = "/sbin/e2fsck"
	WorkDir       = "/tmp"
)

// Attempts is how often a stalled scenario runs before it fails.
const Attempts = 2

// Plan is the plan file.
type Plan struct {
	Scenarios []string // names in scenario.All, run in this order
	// Attempt is the attempt a scenario starts at, where not 1: a
	// fresh machine retrying the attempt that wedged the last one.
	Attempt map[string]int `json:",omitempty"`
	Env     scenario.Env   // with the paths above
	Compare *Compare       `json:",omitempty"`
}

// Where the outer initramfs keeps QEMU for the comparison: the binary at
// its host path, its shared libraries at theirs (found in LibDirs), and
// the firmware it loads in DataDir, QEMU's built-in data directory.
const (
	QEMU    = "/usr/bin/qemu-system-x86_64"
	DataDir = "/usr/share/qemu"
)

// Compare makes the outer init boot one scenario under glue and under
// QEMU on the same /dev/kvm, alternately, instead of running the plan's
// scenarios: the side-by-side measurement and the stall rates.
type Compare struct {
	Boots    int               // per VMM
	Scenario scenario.Scenario // booted by both; ELF and PVH, so that QEMU's microvm boots it alike
	LibDirs  []string          // QEMU's library directories (LD_LIBRARY_PATH)
	From     int               // the first boot to run, in Slot's numbering: a fresh machine goes on where a wedged one stopped
	DiskMiB  int               // > 0: a raw disk of this size for each boot, created afresh in WorkDir
}

// Slot is the round and VMM of the comparison's boot k (from 0): glue
// first in odd rounds, QEMU first in even ones, so that a drift of the
// emulated machine's speed over the run weighs on both alike.
func Slot(k int) (round int, vmm string) {
	round = k/2 + 1
	first := k%2 == 0
	if (round%2 == 1) == first {
		return round, "glue"
	}
	return round, "qemu"
}

// FailLinesKept bounds Boot.FailLines.
const FailLinesKept = 5

// Boot is one measured boot of the comparison, sent back as JSON.
type Boot struct {
	VMM       string  `json:"vmm"` // "glue" or "qemu"
	Round     int     `json:"round"`
	Stalled   bool    `json:"stalled"`    // no GLUE-DONE within the deadline
	Exited    bool    `json:"exited"`     // the VMM ended before GLUE-DONE
	Wedged    bool    `json:"wedged"`     // the outer machine locked up during the boot (a stall too)
	InitSecs  float64 `json:"init_s"`     // VMM start to init's first line
	DoneSecs  float64 `json:"done_s"`     // VMM start to init's GLUE-DONE
	CPUSecs   float64 `json:"cpu_s"`      // the VMM's user+system time until it was killed at GLUE-DONE
	MaxRSSKiB int64   `json:"maxrss_kib"` // the VMM's peak resident set
	Fails     int     `json:"fails"`      // init's GLUE-FAIL lines, a blkperf or tcp line that does not parse, a failed host side
	// FailLines are init's first GLUE-FAIL lines (at most FailLinesKept),
	// which say what failed in a boot that still reached GLUE-DONE.
	FailLines []string `json:"fail_lines,omitempty"`
	// BlkWriteMiBs and BlkReadMiBs are init's blkperf check's sequential
	// MiB/s; 0 where it did not report them.
	BlkWriteMiBs float64 `json:"blk_write_mibs,omitempty"`
	BlkReadMiBs  float64 `json:"blk_read_mibs,omitempty"`
	// TCPInMiBs and TCPOutMiBs are init's tcp check's MiB/s into and out
	// of the guest; 0 where it did not report them.
	TCPInMiBs  float64  `json:"tcp_in_mibs,omitempty"`
	TCPOutMiBs float64  `json:"tcp_out_mibs,omitempty"`
	Last       []string `json:"last,omitempty"` // the output's last lines, without GLUE-DONE
	// OuterBoot is the boot of the outer machine it ran in, from 1; the
	// host sets it.
	OuterBoot int `json:"-"`
}

// Failed counts a failed check of the boot and keeps its line while
// FailLines has room.
func (b *Boot) Failed(line string) {
	b.Fails++
	if len(b.FailLines) < FailLinesKept {
		b.FailLines = append(b.FailLines, line)
	}
}
