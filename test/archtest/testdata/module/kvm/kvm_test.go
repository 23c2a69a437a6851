package kvm_test

import (
	"testing"

	"example.com/fixture/kvm"
	"example.com/fixture/kvm/kvmtest"
)

func TestKVM(t *testing.T) { kvmtest.Use(t); _ = kvm.Open }
