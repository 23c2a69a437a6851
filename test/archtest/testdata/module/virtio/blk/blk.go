package blk

import "example.com/fixture/virtio"

var _ = virtio.Device
