package virtio
