package kvmtest

import (
	"testing"

	"example.com/fixture/kvm"
)

func Use(t *testing.T) { _ = kvm.Open }
