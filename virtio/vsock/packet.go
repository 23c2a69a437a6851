package vsock

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderLen is the size of struct virtio_vsock_hdr (virtio 1.2, 5.10.6),
// little-endian and packed.
const HeaderLen = 44

// HostCID is the host's address: every packet the guest sends goes to it.
const HostCID = 2

// Packet operations (VIRTIO_VSOCK_OP_*).
const (
	OpRequest       uint16 = 1
	OpResponse      uint16 = 2
	OpRST           uint16 = 3
	OpShutdown      uint16 = 4
	OpRW            uint16 = 5
	OpCreditUpdate  uint16 = 6
	OpCreditRequest uint16 = 7
)

// TypeStream is VIRTIO_VSOCK_TYPE_STREAM, the only socket type offered.
const TypeStream uint16 = 1

// Shutdown flags: the sender will receive (RCV) or send (SEND) no more.
const (
	ShutdownRcv  uint32 = 1
	ShutdownSend uint32 = 2
)

// Header is a host copy of struct virtio_vsock_hdr.
type Header struct {
	SrcCID, DstCID   uint64
	SrcPort, DstPort uint32
	Len              uint32
	Type, Op         uint16
	Flags            uint32
	BufAlloc, FwdCnt uint32
}

// Errors a guest packet can have; each is counted and the packet dropped
// (with an RST where a connection is named).
var (
	ErrShortHeader = errors.New("vsock: packet shorter than its header")
	ErrBadCID      = errors.New("vsock: packet addresses are not guest -> host")
	ErrBadType     = errors.New("vsock: unknown socket type")
	ErrBadOp       = errors.New("vsock: unknown operation")
	ErrBadLen      = errors.New("vsock: payload length inconsistent with the packet")
)

// DecodeHeader decodes the first HeaderLen bytes of b.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("%w: %d bytes", ErrShortHeader, len(b))
	}
	le := binary.LittleEndian
	return Header{
		SrcCID: le.Uint64(b[0:]), DstCID: le.Uint64(b[8:]),
		SrcPort: le.Uint32(b[16:]), DstPort: le.Uint32(b[20:]),
		Len: le.Uint32(b[24:]), Type: le.Uint16(b[28:]), Op: le.Uint16(b[30:]),
		Flags: le.Uint32(b[32:]), BufAlloc: le.Uint32(b[36:]), FwdCnt: le.Uint32(b[40:]),
	}, nil
}

// Encode writes h into b[:HeaderLen].
func (h *Header) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], h.SrcCID)
	le.PutUint64(b[8:], h.DstCID)
	le.PutUint32(b[16:], h.SrcPort)
	le.PutUint32(b[20:], h.DstPort)
	le.PutUint32(b[24:], h.Len)
	le.PutUint16(b[28:], h.Type)
	le.PutUint16(b[30:], h.Op)
	le.PutUint32(b[32:], h.Flags)
	le.PutUint32(b[36:], h.BufAlloc)
	le.PutUint32(b[40:], h.FwdCnt)
}

// ParsePacket decodes and checks one transmit packet whose chain holds
// chainLen readable bytes, for a guest at guestCID. A packet from another
// CID, or to another than the host, is refused outright; an unknown type or
// operation, or a payload longer than the chain or than maxPayload, is
// refused with the header still returned, so the caller can reset the
// connection it names.
func ParsePacket(b []byte, chainLen uint32, guestCID uint64, maxPayload uint32) (Header, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return h, err
	}
	switch {
	case h.SrcCID != guestCID || h.DstCID != HostCID:
		return h, fmt.Errorf("%w: %d -> %d", ErrBadCID, h.SrcCID, h.DstCID)
	case h.Type != TypeStream:
		return h, fmt.Errorf("%w: %d", ErrBadType, h.Type)
	case h.Op < OpRequest || h.Op > OpCreditRequest:
		return h, fmt.Errorf("%w: %d", ErrBadOp, h.Op)
	case h.Len > maxPayload || uint64(h.Len)+HeaderLen > uint64(chainLen):
		return h, fmt.Errorf("%w: len %d, chain %d bytes", ErrBadLen, h.Len, chainLen)
	case h.Op != OpRW && h.Len != 0:
		return h, fmt.Errorf("%w: len %d on operation %d", ErrBadLen, h.Len, h.Op)
	}
	return h, nil
}
