package initramfs

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
)

// The init program and the initramfs on a real kernel, without KVM: QEMU's
// TCG boots Debian's kernel (GLUE_TEST_KERNEL) into the archive, with
// QEMU's own virtio devices (on PCI: QEMU's pc machine has no virtio-mmio).
// The hardware-KVM tests run the same init under glue; where they fail and
// this passes, the fault is glue's. Skips (see package hosttest) without
// QEMU, mkfs.ext4 or the kernel package; about 10 s.
func TestInitUnderQEMU(t *testing.T) {
	t.Parallel()
	kernel := hosttest.Kernel(t)
	qemu := hosttest.LookPath(t, "qemu-system-x86_64")
	hosttest.LookPath(t, "mkfs.ext4")
	dir, err := ModulesDir(kernel)
	if errors.Is(err, fs.ErrNotExist) {
		hosttest.Skip(t, hosttest.ReasonKernel, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	mods, err := Resolve(dir, append([]string{"virtio_pci", "virtio_blk", "virtio_net", "virtio_rng", "virtio_console"},
		RootfsModules...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	img, err := Build(ctx, tmp, mods, true)
	if err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(tmp, "disk.img")
	if err := os.WriteFile(disk, []byte("glue-hwkvm-in q3mu\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(disk, 16<<20)
	// The second disk, vdb, is an ext4 image that init's rootfs check
	// mounts read-only (virtio-blk-pci devices probe in command-line order).
	rootfs := filepath.Join(tmp, "rootfs.ext4")
	if err := RootfsImage(ctx, rootfs, 16, "q3mu"); err != nil {
		t.Fatal(err)
	}
	checks, virtio := "blk,rootfs,rng,net,hvc0", 5
	rootfsArgs := []string{"-drive", "file=" + rootfs + ",format=raw,if=none,id=d1,readonly=on",
		"-device", "virtio-blk-pci,drive=d1"}
	sock := filepath.Join(tmp, "hvc.sock")

	// User networking: QEMU's built-in gateway 10.0.2.2 answers pings.
	args := []string{"-M", "pc", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "256",
		"-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio",
		"-kernel", kernel, "-initrd", img,
		"-drive", "file=" + disk + ",format=raw,if=none,id=d0", "-device", "virtio-blk-pci,drive=d0"}
	args = append(args, rootfsArgs...)
	args = append(args,
		"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,mac=02:00:00:00:00:2b",
		"-device", "virtio-rng-pci",
		"-chardev", "socket,id=h0,path="+sock+",server=on,wait=off",
		"-device", "virtio-serial-pci", "-device", "virtconsole,chardev=h0",
		"-append", "console=ttyS0 panic=-1 reboot=k rdinit=/init glue.hw="+checks+" glue.hw.virtio="+strconv.Itoa(virtio)+
			" glue.hw.rootfs=vdb glue.hw.ip=10.0.2.15/24 glue.hw.peer=10.0.2.2 glue.hw.token=q3mu")
	cmd := exec.CommandContext(ctx, qemu, args...)
	serial, hvc := newOutput(), newOutput()
	cmd.Stdout, cmd.Stderr = serial, serial
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() { cmd.Process.Kill(); <-exited }()
	defer func() {
		if t.Failed() {
			t.Logf("serial:\n%s\nhvc0:\n%s", serial.String(), hvc.String())
		}
	}()
	var conn net.Conn
	for deadline := time.Now().Add(30 * time.Second); conn == nil; time.Sleep(50 * time.Millisecond) {
		if conn, err = net.Dial("unix", sock); err != nil && time.Now().After(deadline) {
			t.Fatalf("connect to QEMU's hvc0 socket: %v", err)
		}
	}
	defer conn.Close()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			hvc.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()

	if !serial.waitFor(ctx, exited, "GLUE-READY init host") {
		t.Fatal("init never asked for the host's turn")
	}
	conn.Write([]byte("typed on the host\r"))
	select {
	case <-exited:
	case <-ctx.Done():
		t.Fatal("qemu still running after init's turn")
	}
	if waitErr != nil {
		t.Fatalf("qemu: %v (init's reset ends it with -no-reboot)", waitErr)
	}

	out := serial.String()
	if strings.Contains(out, "GLUE-FAIL") || !strings.Contains(out, "GLUE-DONE init") {
		t.Error("init reported a failure or did not finish")
	}
	// QEMU's Linux loader writes its loader ID, 0xb, into type_of_loader.
	wants := []string{
		"GLUE-OK init mounts proc,sysfs,devtmpfs", "GLUE-OK init cmdline token=q3mu", "GLUE-OK init boot loader=0xb0 ", "GLUE-OK init cpus online=0 n=1", "GLUE-OK init blk dev=vda sectors=32768 read=q3mu wrote=4096 verified=1",
		"GLUE-OK init rng current=virtio_rng.0 bytes=32", "GLUE-OK init net if=eth0 mac=02:00:00:00:00:2b addr=10.0.2.15/24 replies=3",
		"GLUE-OK init hvc0 echo=typed on the host", "GLUE-OK init net-in ", "GLUE-OK init modules loaded=",
		"GLUE-OK init mem ", "GLUE-OK init rtc ", "GLUE-OK init pid1 pid=1",
	}
	wants = append(wants, "GLUE-OK init virtio devices=5 ids=1,2,2,3,4",
		"GLUE-OK init rootfs token=q3mu dev=vdb fs=ext4 ro=1")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "GLUE-OK init rootfs ") || strings.HasPrefix(line, "GLUE-OK init modules ") {
			t.Log(strings.TrimSpace(line))
		}
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("no %q", want)
		}
	}
	if !strings.Contains(hvc.String(), "GLUE-HVC0 hello from hvc0") {
		t.Errorf("hvc0 carried %q", hvc.String())
	}
	b, _ := os.ReadFile(disk)
	if !bytes.HasPrefix(b[4096:], []byte("glue-hwkvm-out q3mu\n")) {
		t.Errorf("disk at 4096: %q", b[4096:4096+24])
	}
}

// output collects a process's output and wakes waiters on each write.
type output struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{}
}

func newOutput() *output { return &output{notify: make(chan struct{}, 1)} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	o.buf.Write(p)
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor reports whether want appeared before ctx ended or the process
// exited.
func (o *output) waitFor(ctx context.Context, exited <-chan struct{}, want string) bool {
	for !strings.Contains(o.String(), want) {
		select {
		case <-o.notify:
		case <-exited:
			return strings.Contains(o.String(), want)
		case <-ctx.Done():
			return false
		}
	}
	return true
}
