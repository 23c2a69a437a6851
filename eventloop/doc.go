// Package eventloop is glue's one epoll goroutine: it waits on the file
// descriptors that drive the VMM besides the vCPUs — ioeventfds (virtio queue
// notifications), tap fds, timerfds — and calls a handler for each one that
// becomes ready.
//
// # Model
//
// A Loop owns an epoll instance and an internal eventfd used to wake it.
// Run, called once at a time from a goroutine of the VMM, is the loop
// goroutine: it locks itself to its OS thread and calls handlers and
// submitted functions one at a time, so code that runs only there needs no
// locks of its own. Add, Modify, Remove, Submit, Pause, Resume and Close may
// be called from any goroutine, including from a handler.
//
// Handlers must not block: one that waits stalls every other device.
// Long or blocking work (a disk read, a write to a slow file) goes to another
// goroutine, which reports back with Submit.
//
// # Guarantees
//
//   - When Remove returns, the handler it removed is not running and is never
//     called again, even for an event that epoll_wait had already returned.
//     Each registration carries a generation number in the epoll data, and
//     the loop checks it against the current registration before each call;
//     Remove from another goroutine also waits for a call already in progress.
//     (Remove the fd before closing it: epoll forgets a closed fd on its own
//     only when no duplicate of it is left open.)
//   - Submitted functions run in the order Submit was called, after the
//     handlers of the batch being dispatched.
//   - Pause returns once the loop goroutine has parked between two calls:
//     nothing runs until Resume. Events that arrive meanwhile are delivered
//     after Resume. Pause and Resume are idempotent, and Run returns if its
//     context ends while paused.
//   - A handler or submitted function that panics does not take the VMM down
//     without a word, nor does it kill the loop: the panic is recovered and
//     logged at Error with its stack, and a handler's fd is removed so that
//     a level-triggered fd cannot make it panic again in a loop. Glue's rule
//     is that guest input never panics; a panic here is a glue bug, and one
//     device going quiet is better than the whole VM dying.
package eventloop
