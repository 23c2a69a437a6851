package aml

import "fmt"

// RegionSpace is an operation region's address space (ACPI 6.5 §19.6.100).
type RegionSpace byte

const (
	SystemMemory RegionSpace = 0x00
	SystemIO     RegionSpace = 0x01
)

// OperationRegion declares name as length bytes of space at offset.
func OperationRegion(name string, space RegionSpace, offset, length uint64) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		b, err := appendNameString(append(b, extOpPrefix, opRegionExtOp), name)
		if err != nil {
			return nil, err
		}
		b = append(b, byte(space))
		return appendTerms(b, []Term{Int(offset), Int(length)})
	})
}

// FieldAccess is a field's access width (FieldFlags bits 0-3).
type FieldAccess byte

const (
	AnyAcc   FieldAccess = 0
	ByteAcc  FieldAccess = 1
	WordAcc  FieldAccess = 2
	DWordAcc FieldAccess = 3
	QWordAcc FieldAccess = 4
)

// FieldUpdate says what happens to the bits of an access a write leaves
// out (FieldFlags bits 5-6).
type FieldUpdate byte

const (
	Preserve     FieldUpdate = 0
	WriteAsOnes  FieldUpdate = 1
	WriteAsZeros FieldUpdate = 2
)

// FieldUnit is one field of a Field: Bits bits named Name, or, with an
// empty Name, Bits reserved bits skipped.
type FieldUnit struct {
	Name string
	Bits int
}

// Field declares named fields over the operation region, in order from its
// start, without the global lock.
func Field(region string, access FieldAccess, update FieldUpdate, units ...FieldUnit) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		body, err := appendNameString(nil, region)
		if err != nil {
			return nil, err
		}
		if access > QWordAcc || update > WriteAsZeros {
			return nil, fmt.Errorf("aml: Field %s: access %d or update rule %d out of range", region, access, update)
		}
		body = append(body, byte(access)|byte(update)<<5)
		for _, u := range units {
			if u.Bits <= 0 {
				return nil, fmt.Errorf("aml: Field %s: unit %q has %d bits", region, u.Name, u.Bits)
			}
			if u.Name == "" {
				body = append(body, 0x00) // ReservedField
			} else if body, err = appendNameSeg(body, u.Name); err != nil {
				return nil, fmt.Errorf("aml: Field %s: %w", region, err)
			}
			if body, err = appendPkgLenValue(body, u.Bits); err != nil {
				return nil, fmt.Errorf("aml: Field %s: %w", region, err)
			}
		}
		return appendPackageOp(b, []byte{extOpPrefix, fieldExtOp}, body)
	})
}
