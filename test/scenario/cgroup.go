package scenario

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gluevmm/glue/test/procstat"
)

// A Jail scenario runs glue with --jail and --jail-cgroup Env.Cgroup; while
// init holds the VM (its hold check), the host reads the kernel's own
// files of the VM's cgroup, the oracle for glue's limits, and after glue
// has exited it looks for the cgroup again. It reports one line in the
// boot's output, which Verify checks:
//
//	GLUE-OK outer cgroup dir=D jailed=PID procs=PID,... memory.max=N cpu.max=QUOTA,PERIOD pids.max=N memory.current=N pids.current=N removed=yes|no
//	GLUE-FAIL outer cgroup REASON

// JailID is the uid and gid a Jail scenario's glue drops to: one no user
// of the host has.
const JailID = 64001

// jailMemoryOverhead, jailCPUsOver and jailTaskHeadroom are what glue's
// cgroup allows over the VM's size, as docs/security.md ("The cgroup")
// states them: guest RAM + 256 MiB, vCPUs + 1 CPUs' time, vCPUs + 1024
// tasks.
const (
	jailMemoryOverhead = 256 << 20
	jailCPUsOver       = 1
	jailTaskHeadroom   = 1024
	cpuPeriod          = 100000
)

// WantCgroup returns the limits glue must write for s: memory.max,
// cpu.max (its two numbers joined by a comma, as the outer line has it)
// and pids.max.
func (s Scenario) WantCgroup() (memory, cpu, pids string) {
	return strconv.Itoa(s.MemMiB<<20 + jailMemoryOverhead),
		fmt.Sprintf("%d,%d", (s.CPUs+jailCPUsOver)*cpuPeriod, cpuPeriod),
		strconv.Itoa(s.CPUs + jailTaskHeadroom)
}

// cgroupControllers are the ones glue's limits need.
const cgroupControllers = "+cpu +memory +pids"

// DelegateCgroup prepares a cgroup v2 hierarchy mounted at mount the way
// a service manager delegates a subtree (systemd's Delegate=yes): it
// enables cpu, memory and pids in the root's cgroup.subtree_control,
// creates mount/name and enables them there too, for glue's cgroups under
// it. It returns the delegated cgroup's directory. It needs root.
func DelegateCgroup(mount, name string) (string, error) {
	dir := filepath.Join(mount, name)
	if err := os.WriteFile(filepath.Join(mount, "cgroup.subtree_control"), []byte(cgroupControllers), 0o644); err != nil {
		return "", fmt.Errorf("scenario: enable %s at %s: %w", cgroupControllers, mount, err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("scenario: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(cgroupControllers), 0o644); err != nil {
		return "", fmt.Errorf("scenario: enable %s in %s: %w", cgroupControllers, dir, err)
	}
	return dir, nil
}

// jailFiles puts the kernel and initramfs of a Jail scenario into a jail
// directory of its own in WorkDir (hard links where it can, copies
// where not) and returns it with their paths there.
func jailFiles(env Env, s Scenario, initrd string) (dir, kernel, jailedInitrd string, err error) {
	dir = filepath.Join(env.WorkDir, s.Name+"-jail")
	os.RemoveAll(dir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", "", "", fmt.Errorf("jail directory: %w", err)
	}
	kernel = env.Kernel
	if s.ELF {
		kernel = env.Vmlinux
	}
	var paths [2]string
	for i, src := range []string{kernel, initrd} {
		paths[i] = filepath.Join(dir, filepath.Base(src))
		if err := linkOrCopy(src, paths[i]); err != nil {
			return "", "", "", fmt.Errorf("jail directory: %w", err)
		}
	}
	return dir, paths[0], paths[1], nil
}

func linkOrCopy(src, dst string) error {
	if os.Link(src, dst) == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// jailArgs are the glue run flags of a Jail scenario's boot.
func jailArgs(env Env, dir, name string) []string {
	id := strconv.Itoa(JailID)
	return []string{"--jail", dir, "--jail-uid", id, "--jail-gid", id, "--jail-cgroup", env.Cgroup, "-n", name}
}

// cgroupProbe is the host's look at a jailed VM's cgroup.
type cgroupProbe struct {
	dir    string // the cgroup glue makes: Env.Cgroup/glue-NAME
	fields []string
	err    error
}

// read reads the cgroup while the VM runs; glue is the jail's supervisor
// process, whose one child is the jailed glue.
func (p *cgroupProbe) read(glue int) {
	jailed, err := children(glue)
	if err == nil && len(jailed) != 1 {
		err = fmt.Errorf("glue (PID %d) has children %v, want one: the jailed glue", glue, jailed)
	}
	if err != nil {
		p.err = err
		return
	}
	procs, err := os.ReadFile(filepath.Join(p.dir, "cgroup.procs"))
	if err != nil {
		p.err = err
		return
	}
	// KVM runs a kernel thread per VM (kvm-nx-lpage-recovery) and puts
	// it in the cgroups of the process that created the VM: it is
	// listed apart, with its name.
	var users, kthreads []string
	for _, pid := range strings.Fields(string(procs)) {
		n, _ := strconv.Atoi(pid)
		st, err := procstat.Read(n)
		switch {
		case err != nil:
			users = append(users, pid) // it exited: not a kernel thread
		case st.Kthread():
			kthreads = append(kthreads, pid+":"+st.Comm)
		default:
			users = append(users, pid)
		}
	}
	p.fields = []string{"dir=" + p.dir, "jailed=" + strconv.Itoa(jailed[0]),
		"procs=" + strings.Join(users, ","), "kthreads=" + strings.Join(kthreads, ",")}
	for _, f := range []string{"memory.max", "cpu.max", "pids.max", "memory.current", "pids.current"} {
		b, err := os.ReadFile(filepath.Join(p.dir, f))
		if err != nil {
			p.err = err
			return
		}
		p.fields = append(p.fields, f+"="+strings.Join(strings.Fields(string(b)), ","))
	}
}

// line is the probe's report once glue has exited: whether the cgroup is
// gone is looked at now.
func (p *cgroupProbe) line() string {
	if p.err == nil && p.fields == nil {
		p.err = errors.New("init never held the VM (no GLUE-READY init hold)")
	}
	if p.err != nil {
		return "GLUE-FAIL outer cgroup " + p.err.Error()
	}
	removed := "no"
	if _, err := os.Lstat(p.dir); errors.Is(err, fs.ErrNotExist) {
		removed = "yes"
	}
	return "GLUE-OK outer cgroup " + strings.Join(p.fields, " ") + " removed=" + removed
}

// children returns the PIDs whose parent is pid.
func children(pid int) ([]int, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, path := range stats {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		if st, err := procstat.Read(n); err == nil && st.PPID == pid {
			kids = append(kids, n)
		}
	}
	return kids, nil
}
