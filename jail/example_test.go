package jail_test

import (
	"context"
	"log"
	"log/slog"
	"os"
	"os/exec"

	"github.com/gluevmm/glue/jail"
)

// A program jails itself: the first run starts itself again in the jail
// and waits; the second (Inside) enters it, opens what needs root, drops
// to the unprivileged ids and goes on with only what it holds.
func Example() {
	cfg := jail.Config{Dir: "/srv/vm1", UID: 64001, GID: 64001, Devices: []jail.Device{jail.KVM}}
	if !jail.Inside() {
		cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := jail.Run(context.Background(), cfg, "vm1", cmd, slog.Default()); err != nil {
			log.Fatal(err)
		}
		return
	}
	// Host paths inside Dir are opened at their place in the jail.
	kernel, err := cfg.Path("/srv/vm1/vmlinux")
	if err != nil {
		log.Fatal(err)
	}
	if err := jail.Enter(cfg); err != nil {
		log.Fatal(err)
	}
	kvm, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		log.Fatal(err)
	}
	image, err := os.Open(kernel) // "/vm/vmlinux"
	if err != nil {
		log.Fatal(err)
	}
	if err := jail.Drop(cfg); err != nil {
		log.Fatal(err)
	}
	_, _ = kvm, image // from here on, only these descriptors
}
