package main

import (
	"encoding/binary"
	"fmt"
	"os"
)

// Offsets in struct boot_params (Documentation/arch/x86/boot.rst).
const (
	bootParamsVersion      = 0x206 // u16: boot protocol version of the setup header
	bootParamsTypeOfLoader = 0x210 // u8: boot loader ID << 4 | version
)

// bootCheck reports the boot_params Linux kept (x86 exports them read-only
// in sysfs). They tell the entry paths apart: through the 64-bit boot
// protocol (or the bzImage's own entry) they are the zero page glue wrote,
// with glue's type_of_loader 0xff and the image's header version; through
// PVH, Linux's PVH code built them itself from hvm_start_info and set
// type_of_loader 0xb0 on a host that is not Xen (0x90 on Xen) and version
// 2.12.
func bootCheck() (string, error) {
	data, err := os.ReadFile("/sys/kernel/boot_params/data")
	if err != nil {
		return "", err
	}
	return bootParamsDetails(data)
}

func bootParamsDetails(data []byte) (string, error) {
	if len(data) <= bootParamsTypeOfLoader {
		return "", fmt.Errorf("boot_params: %d bytes, want at least %d", len(data), bootParamsTypeOfLoader+1)
	}
	return fmt.Sprintf("loader=%#02x version=%#04x",
		data[bootParamsTypeOfLoader], binary.LittleEndian.Uint16(data[bootParamsVersion:])), nil
}
