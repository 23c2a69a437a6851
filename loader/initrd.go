package loader

import (
	"errors"
	"slices"

	"github.com/gluevmm/glue/guestmem"
)

const pageSize = 4096

// Initrd is where an initial ramdisk was placed; the VMM writes both into
// the zero page (ramdisk_image, ramdisk_size) or the PVH start info.
type Initrd struct {
	Addr guestmem.Addr
	Size uint64
}

// LoadInitrd copies an initrd into guest RAM, page-aligned and as high as
// possible (as boot loaders do, so the kernel's early allocations below it
// have room), within the RAM that lies above the end of kernel k and at or
// below k.InitrdAddrMax. On error nothing has been written.
func LoadInitrd(mem *guestmem.Memory, data []byte, k *Kernel) (Initrd, error) {
	rd, err := placeInitrd(mem, uint64(len(data)), k)
	if err != nil {
		return Initrd{}, err
	}
	if err := mem.WriteAt(data, rd.Addr); err != nil {
		return Initrd{}, err
	}
	return rd, nil
}

// placeInitrd chooses where an initrd of size bytes goes, as LoadInitrd
// describes, without writing anything.
func placeInitrd(mem *guestmem.Memory, size uint64, k *Kernel) (Initrd, error) {
	if mem == nil || k == nil {
		return Initrd{}, errors.New("loader: initrd: nil memory or kernel")
	}
	if size == 0 {
		return Initrd{}, errorf(ErrInitrdEmpty, "loader: initrd is empty")
	}
	floor, ok := alignUp(uint64(k.End), pageSize)
	if !ok {
		return Initrd{}, errorf(ErrAddressOverflow, "loader: initrd: kernel end %#x", k.End)
	}
	addrMax := k.InitrdAddrMax
	if addrMax == 0 {
		addrMax = DefaultInitrdAddrMax
	}
	ceiling, ok := rangeEnd(uint64(addrMax), 1)
	if !ok {
		ceiling = 1<<64 - pageSize // no limit; any page-aligned top will do
	}
	regions := slices.Clone(mem.Regions())
	slices.Reverse(regions) // highest first
	for _, r := range regions {
		top := min(uint64(r.End()), ceiling)
		bottom := max(uint64(r.Base), floor)
		if top <= bottom || top-bottom < size {
			continue
		}
		addr := (top - size) &^ (pageSize - 1)
		if addr < bottom {
			continue
		}
		return Initrd{Addr: guestmem.Addr(addr), Size: size}, nil
	}
	return Initrd{}, errorf(ErrInitrdDoesNotFit,
		"loader: initrd of %d bytes does not fit in RAM between the kernel's end %#x and initrd_addr_max %#x",
		size, floor, addrMax)
}
