package control_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gluevmm/glue/control"
)

// vm stands in for *vmm.VM: the control plane needs only this much of it.
type vm struct {
	mu    sync.Mutex
	state control.State
}

func (v *vm) Info() control.Info {
	v.mu.Lock()
	defer v.mu.Unlock()
	return control.Info{State: v.state, CPUs: 1, MemMiB: 512, StartedAt: time.Now()}
}

func (v *vm) set(s control.State) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.state = s
	return nil
}

func (v *vm) Pause(context.Context) error               { return v.set(control.StatePaused) }
func (v *vm) Resume(context.Context) error              { return v.set(control.StateRunning) }
func (v *vm) Stop(context.Context, time.Duration) error { return v.set(control.StateStopping) }
func (v *vm) Console() control.ConsolePort              { return nil }

// `glue run` claims its name and serves the VM on its control socket;
// `glue pause` and `glue list` are clients in other processes.
func Example() {
	tmp, err := os.MkdirTemp("", "glue-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "run") // what control.RuntimeDir returns in real use

	// The VM process.
	srv, err := control.Listen(dir, "demo")
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go srv.Serve(ctx, &vm{state: control.StateRunning})

	// `glue pause demo`
	c, err := control.Dial(dir, "demo")
	if err != nil {
		panic(err)
	}
	if err := c.Pause(ctx); err != nil {
		panic(err)
	}

	// `glue list`
	vms, err := control.List(ctx, dir)
	if err != nil {
		panic(err)
	}
	for _, v := range vms {
		fmt.Println(v.Name, v.State, v.CPUs, v.MemMiB)
	}
	// Output:
	// demo paused 1 512
}
