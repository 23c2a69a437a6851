package kvm

import (
	"os"

	"golang.org/x/sys/unix"
)

var _, _ = os.Getpid, unix.Getpid
