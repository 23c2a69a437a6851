// Package sandbox confines the calling process once it holds everything it
// needs: a seccomp filter on every thread (an allow-list of system calls,
// with argument checks on ioctl request numbers, mmap protections,
// clone flags and unlinkat flags), no_new_privs, and resource limits.
//
// It is written for a VMM after its VM is built: only file descriptors that
// are already open are used from then on, so the filter allows no open,
// socket, connect, bind or exec at all. A call outside the filter ends the
// whole process with one line on stderr naming the call (see Install).
//
// The package knows nothing of KVM: the caller passes the ioctl request
// numbers it still needs (vmm passes the KVM ones of the vCPU run loop and
// the interrupt plumbing).
package sandbox

//go:generate go run mksysnames.go
