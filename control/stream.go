package control

import (
	"bufio"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// inputQueue is how many chunks of client input may wait for the guest.
// While there is room the server keeps reading the socket, so it notices a
// client that detached even when the guest is not taking input.
const inputQueue = 16

// console runs a console session: after the OK reply the connection is a
// raw byte stream, guest output to the client and client bytes to the
// guest's input, until the client closes (detach), the console ends, or the
// server closes.
func (s *Server) console(c *conn, br *bufio.Reader, t Target) {
	port := t.Console()
	if port == nil {
		s.reply(c, Response{Error: errorf(CodeUnavailable, "this VM has no console")})
		return
	}
	out, err := port.Attach()
	if err != nil {
		s.reply(c, Response{Error: s.toError(err)})
		return
	}
	ctx, cancel := context.WithCancel(s.opCtx)
	defer cancel()
	// Whatever ends the session, ending ctx unblocks everything below.
	context.AfterFunc(ctx, func() {
		out.Close()
		c.Close()
	})
	if !s.enter(c, phaseStreaming, cancel) {
		return
	}
	defer s.consoles.Done()
	if err := s.reply(c, Response{OK: true}); err != nil {
		return
	}
	s.log().Info("control: console attached", "vm", s.name)
	defer s.log().Info("control: console detached", "vm", s.name)

	var detached atomic.Bool // the client closed its side
	var wg sync.WaitGroup
	wg.Go(func() { // guest output to the client
		io.Copy(c, out)
		if detached.Load() {
			// The slot is free already: ending our side tells the
			// client so (Client.Console's Close waits for it), while
			// what it typed last still drains to the guest below.
			c.CloseWrite()
			return
		}
		// The console ended or the client is gone (the write failed).
		cancel()
	})
	chunks := make(chan []byte, inputQueue)
	wg.Go(func() { // client input, queued for the guest
		defer close(chunks)
		for {
			buf := make([]byte, 4096)
			n, err := br.Read(buf)
			if n > 0 {
				select {
				case chunks <- buf[:n]:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					cancel()
				}
				// The client closed: detach at once, so that it (or
				// another) can attach again right away; what was
				// queued for it still goes out above, and what it typed
				// last gets a moment to reach the guest.
				detached.Store(true)
				out.Close()
				time.AfterFunc(s.readTimeout(), cancel)
				return
			}
		}
	})
	for p := range chunks {
		if ctx.Err() != nil {
			continue // drain so the reader can finish
		}
		if err := port.Input(ctx, p); err != nil {
			cancel()
		}
	}
	if !detached.Load() {
		cancel()
	}
	// After a detach the output goroutine ends the session once what
	// was queued for the client has gone out, or the read timeout does
	// for a client that stopped reading.
	wg.Wait()
}
