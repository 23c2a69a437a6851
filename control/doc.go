// Package control is glue's control plane: the per-VM Unix socket through
// which `glue list`, `pause`, `resume`, `stop` and `console` reach a running
// `glue run`.
//
// glue has no daemon. Each VM process claims a name in the runtime directory
// (Listen) and serves a Target — the VM — on `<dir>/<name>.sock` (Serve).
// Clients find VMs by listing that directory (List) and talk to one with
// Dial. The wire protocol, one JSON request and one JSON response per
// connection, is documented in docs/control-protocol.md.
//
// Liveness is a lock, not a pid file: the serving process holds an exclusive
// flock on `<dir>/<name>.lock` for its whole life, so the kernel releases it
// the moment the process dies, however it dies. Whoever can take the lock
// knows the VM is gone and may remove its files. docs/control-protocol.md
// gives the exact protocol that keeps that cleanup from racing a new VM
// claiming the name.
//
// Who may talk to a VM: the runtime directory is 0700 and the socket 0600,
// and on every connection the server checks the peer's credentials
// (SO_PEERCRED) and answers only its own user and root.
//
// Guest console output reaches an attached client through a ConsoleBuffer,
// which the VMM tees the serial output into: it keeps the last few KiB as
// history and never blocks the vCPU that writes, whatever the client does.
package control
