package vnet_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
	"github.com/gluevmm/glue/virtio/vnet"
)

const allFeatures = virtio.FeatureVersion1 | vnet.FeatureMAC | vnet.FeatureStatus

var testMAC = vnet.MACFromName("test/0")

// fixture is a device behind the MMIO transport, driven by the fake
// driver: the receive queue in one RAM region, the transmit queue in
// another (each queue's buffers fill the rest of its region).
type fixture struct {
	mem    *guestmem.Memory
	be     *fakeBackend
	rec    *interestRecorder
	dev    *vnet.Device
	tr     *mmio.Transport
	drv    *virtiotest.MMIODriver
	rx, tx *virtiotest.Queue
}

func newFixture(t *testing.T, size uint16, features uint64) *fixture {
	t.Helper()
	return newFixtureWith(t, size, features, func(b *fakeBackend) vnet.Backend { return b })
}

// newFixtureWith gives the device wrap(fake) as its backend.
func newFixtureWith(t *testing.T, size uint16, features uint64, wrap func(*fakeBackend) vnet.Backend) *fixture {
	t.Helper()
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 4 << 20}, guestmem.Span{Base: 8 << 20, Size: 4 << 20})
	f := &fixture{mem: mem, be: newFakeBackend(), rec: &interestRecorder{}}
	dev, err := vnet.New(vnet.Config{MAC: testMAC, Backend: wrap(f.be), SetRxInterest: f.rec.set})
	if err != nil {
		t.Fatal(err)
	}
	f.dev = dev
	if f.tr, err = mmio.New(dev, mem, nil, nil); err != nil {
		t.Fatal(err)
	}
	f.drv = &virtiotest.MMIODriver{Regs: f.tr}
	f.init(t, size, features)
	return f
}

// init (re)runs the driver's handshake with fresh queues.
func (f *fixture) init(t *testing.T, size uint16, features uint64) {
	t.Helper()
	f.rx = virtiotest.NewQueue(f.mem, 0x1000, size)
	f.tx = virtiotest.NewQueue(f.mem, 8<<20, size)
	if _, err := f.drv.Init(features, f.rx, f.tx); err != nil {
		t.Fatal(err)
	}
}

// frame returns an Ethernet frame of n bytes (n >= 14): broadcast, from
// testMAC, EtherType 0x88b5 (local experimental), payload seed, seed+1, ...
func frame(n int, seed byte) []byte {
	f := make([]byte, n)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:], testMAC[:])
	f[12], f[13] = 0x88, 0xb5
	for i := 14; i < n; i++ {
		f[i] = seed + byte(i)
	}
	return f
}

func hdr() []byte { return make([]byte, vnet.HeaderLen) }

// rxHeader is the header the device must put in front of received frames.
func rxHeader() []byte {
	h := hdr()
	binary.LittleEndian.PutUint16(h[10:], 1)
	return h
}

func TestConfigSpace(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 16, allFeatures)
	if id := f.drv.Read32(virtiotest.MMIODeviceID); id != 1 {
		t.Fatalf("device ID %d", id)
	}
	var cfg [8]byte
	for i := range cfg {
		f.tr.Read(virtiotest.MMIOConfig+uint64(i), cfg[i:i+1])
	}
	if !bytes.Equal(cfg[:6], testMAC[:]) || binary.LittleEndian.Uint16(cfg[6:]) != 1 {
		t.Fatalf("config % x, want MAC %v and LINK_UP", cfg, testMAC)
	}
	f.tr.Write(virtiotest.MMIOConfig, []byte{0, 0, 0, 0}) // read-only
	f.tr.Read(virtiotest.MMIOConfig, cfg[:4])
	if !bytes.Equal(cfg[:4], testMAC[:4]) {
		t.Fatal("the MAC changed on a guest write")
	}
	if f.dev.MAC() != testMAC {
		t.Fatal("MAC()")
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]vnet.Config{
		"no backend":    {MAC: testMAC},
		"no MAC":        {Backend: newFakeBackend()},
		"multicast MAC": {Backend: newFakeBackend(), MAC: vnet.MAC{1, 0, 0, 0, 0, 1}},
		"zero MAC":      {Backend: newFakeBackend(), MAC: vnet.MAC{}},
	} {
		if _, err := vnet.New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Before activation and after a reset the device reads nothing, delivers
// nothing and turns interest off; a reset drops the frame the device kept;
// a new session works.
func TestInactiveAndReset(t *testing.T) {
	t.Parallel()
	be, rec := newFakeBackend(), &interestRecorder{}
	dev, err := vnet.New(vnet.Config{MAC: testMAC, Backend: be, SetRxInterest: rec.set})
	if err != nil {
		t.Fatal(err)
	}
	be.Push(frame(60, 0))
	if dev.HandleRx() || dev.Notify(0) || dev.Notify(1) || dev.Notify(2) || dev.Notify(-1) {
		t.Fatal("work before activation")
	}
	if on, calls := rec.get(); on || calls != 1 || be.Waiting() != 1 {
		t.Fatalf("interest %v (%d calls), %d frames waiting", on, calls, be.Waiting())
	}

	f := newFixture(t, 16, allFeatures)
	f.rx.AddChain(virtiotest.Writable(2048))
	f.be.Push(frame(60, 1), frame(60, 2))
	f.dev.HandleRx()
	f.drv.Reset()
	if f.dev.HandleRx() || f.dev.Notify(0) {
		t.Fatal("work after reset")
	}
	// The frame the device kept for the old session is gone with it.
	f.init(t, 16, allFeatures)
	f.be.Push(frame(60, 3))
	f.rx.AddChain(virtiotest.Writable(2048))
	f.drv.Kick(vnet.RxQueue)
	if u := f.rx.Used(); len(u) != 1 || !bytes.Equal(f.rx.Written(u[0])[12:], frame(60, 3)) {
		t.Fatalf("used %+v", u)
	}
}
