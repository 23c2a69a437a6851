package vnet

import "encoding/binary"

// HeaderLen is the size of struct virtio_net_hdr in virtio 1.x (with
// num_buffers), in front of every frame on both queues and at the backend.
const HeaderLen = 12

// MaxFrameLen bounds a frame, header included, in both directions: 64 KiB
// and an Ethernet header, far above what an MTU without offloads produces.
// It caps the device's copy of a transmitted frame whatever length the
// guest declares.
const MaxFrameLen = 65550

// ethHeaderLen is the smallest frame worth sending: an Ethernet header.
const ethHeaderLen = 14

// struct virtio_net_hdr fields that matter without offloads.
const (
	hdrFlags      = 0  // u8: NEEDS_CSUM (1), DATA_VALID (2), RSC_INFO (4)
	hdrGSOType    = 1  // u8: VIRTIO_NET_HDR_GSO_NONE (0)
	hdrNumBuffers = 10 // u16 little endian

	flagNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
)

// needsOffload reports whether a header from the backend asks for work the
// guest did not negotiate: a checksum to fill in or a segmentation.
// DATA_VALID (checksum already verified), which a tap sets on some frames,
// is harmless: the guest checks the checksum itself.
func needsOffload(hdr []byte) bool {
	return hdr[hdrFlags]&flagNeedsCsum != 0 || hdr[hdrGSOType] != 0
}

// validTxHeader reports whether a guest's transmit header is plain: with no
// offloads negotiated the driver sets no flag (NEEDS_CSUM would leave the
// checksum to us, DATA_VALID and RSC_INFO are receive-only) and no GSO type.
// The other fields are ignored in that case.
func validTxHeader(hdr []byte) bool {
	return hdr[hdrFlags] == 0 && hdr[hdrGSOType] == 0
}

// putRxHeader writes the header of a received frame: no offload fields,
// one buffer.
func putRxHeader(hdr []byte) {
	clear(hdr[:HeaderLen])
	binary.LittleEndian.PutUint16(hdr[hdrNumBuffers:], 1)
}
