// Package jail confines a process the way Firecracker's jailer does, without
// a second binary: the process is started again (re-executed) in new mount,
// PID, IPC and UTS namespaces, optionally inside an existing network
// namespace and a cgroup v2 with limits; it then moves into a root of its
// own that holds only the jail directory and the device nodes it needs, and
// drops to an unprivileged uid and gid once it has opened what needs
// privilege.
//
// The two halves run in two processes. Outside, Run starts the command in
// the namespaces and waits for it. Inside, the command calls Enter (mounts
// and pivot_root), opens what it needs, then Drop (uid and gid). Namespaces
// are entered by clone flags when the child is created, not by unshare in
// a running Go program: the Go runtime is multithreaded from its first
// instruction, and a new PID namespace only applies to children anyway.
//
// The jailed process sees:
//
//	/            a small tmpfs, read-only once Enter returns
//	/vm          Dir, bind-mounted (nosuid, nodev, noexec)
//	/dev/...     the Config's device nodes (mode 0600, root's)
//	/proc        a proc of its own PID namespace (only itself)
//
// Nothing of this is visible on the host: it lives in the jail's mount
// namespace, and Dir itself is not written to.
package jail
