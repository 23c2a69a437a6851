package blk_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/blk"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// A disk image behind the virtio-mmio transport, driven the way Linux's
// virtio_blk does: a header, the data, a status byte per request.
func Example() {
	dir, err := os.MkdirTemp("", "glue-blk-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(path, make([]byte, 1<<20), 0o600); err != nil { // 2048 sectors
		panic(err)
	}

	disk, err := blk.Open(path, blk.Options{}) // locked: a second VM cannot open it read-write
	if err != nil {
		panic(err)
	}
	defer disk.Close()

	mem, err := guestmem.New([]guestmem.Span{{Base: 0, Size: 1 << 20}})
	if err != nil {
		panic(err)
	}
	defer mem.Close()
	t, err := mmio.New(blk.New(disk, nil), mem, nil, nil) // the VMM passes its IRQ trigger and logger
	if err != nil {
		panic(err)
	}

	guest := &virtiotest.MMIODriver{Regs: t}
	q := virtiotest.NewQueue(mem, 0x1000, 16)
	if _, err := guest.Init(virtio.FeatureVersion1|blk.FeatureFlush, q); err != nil {
		panic(err)
	}
	header := func(typ uint32, sector uint64) virtiotest.Buf {
		h := make([]byte, 16)
		binary.LittleEndian.PutUint32(h[0:], typ)
		binary.LittleEndian.PutUint64(h[8:], sector)
		return virtiotest.Readable(h)
	}
	sector := bytes.Repeat([]byte("hello, disk! "), 40)[:512]

	q.AddChain(header(blk.ReqOut, 7), virtiotest.Readable(sector), virtiotest.Writable(1))
	q.AddChain(header(blk.ReqFlush, 0), virtiotest.Writable(1))
	q.AddChain(header(blk.ReqIn, 7), virtiotest.Writable(512), virtiotest.Writable(1))
	guest.Kick(0)

	for _, u := range q.Used() {
		b := q.Written(u) // data, then the status byte
		fmt.Printf("request %d: status %d, %d bytes read\n", u.ID, b[len(b)-1], len(b)-1)
		if len(b) > 1 {
			fmt.Printf("sector 7: %q...\n", b[:13])
		}
	}
	img, _ := os.ReadFile(path)
	fmt.Println("image holds it:", bytes.Equal(img[7*512:8*512], sector))
	// Output:
	// request 0: status 0, 0 bytes read
	// request 3: status 0, 0 bytes read
	// request 5: status 0, 512 bytes read
	// sector 7: "hello, disk! "...
	// image holds it: true
}
