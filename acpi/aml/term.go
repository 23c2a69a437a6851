package aml

import "fmt"

// A Term is one AML term (an object, an operator or a data value), encoded
// when Encode walks it.
type Term interface {
	appendAML(b []byte) ([]byte, error)
}

// termFunc lets each constructor be a closure over its operands.
type termFunc func(b []byte) ([]byte, error)

func (f termFunc) appendAML(b []byte) ([]byte, error) { return f(b) }

// Encode returns the encoding of terms in order: a TermList.
func Encode(terms ...Term) ([]byte, error) {
	return appendTerms(nil, terms)
}

func appendTerms(b []byte, terms []Term) ([]byte, error) {
	for i, t := range terms {
		if t == nil {
			return nil, fmt.Errorf("aml: term %d is nil", i)
		}
		var err error
		if b, err = t.appendAML(b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Opcodes (ACPI 6.5 §20.2).
const (
	zeroOp        = 0x00
	oneOp         = 0x01
	nameOp        = 0x08
	bytePrefix    = 0x0a
	wordPrefix    = 0x0b
	dwordPrefix   = 0x0c
	stringPrefix  = 0x0d
	qwordPrefix   = 0x0e
	scopeOp       = 0x10
	bufferOp      = 0x11
	packageOp     = 0x12
	varPackageOp  = 0x13
	methodOp      = 0x14
	extOpPrefix   = 0x5b
	local0Op      = 0x60
	arg0Op        = 0x68
	storeOp       = 0x70
	andOp         = 0x7b
	notifyOp      = 0x86
	lEqualOp      = 0x93
	ifOp          = 0xa0
	elseOp        = 0xa1
	returnOp      = 0xa4
	opRegionExtOp = 0x80
	fieldExtOp    = 0x81
	deviceExtOp   = 0x82
)

const (
	maxMethodArgs = 7
	maxLocal      = 7
	maxArg        = 6
)

// Int is an integer constant in its smallest encoding.
func Int(v uint64) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		switch {
		case v == 0:
			return append(b, zeroOp), nil
		case v == 1:
			return append(b, oneOp), nil
		case v <= 0xff:
			return append(b, bytePrefix, byte(v)), nil
		case v <= 0xffff:
			return append(b, wordPrefix, byte(v), byte(v>>8)), nil
		case v <= 0xffff_ffff:
			return appendLE(append(b, dwordPrefix), v, 4), nil
		default:
			return appendLE(append(b, qwordPrefix), v, 8), nil
		}
	})
}

func appendLE(b []byte, v uint64, size int) []byte {
	for i := 0; i < size; i++ {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// String is a string constant: ASCII characters 0x01-0x7f.
func String(s string) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		for i := 0; i < len(s); i++ {
			if s[i] == 0 || s[i] > 0x7f {
				return nil, fmt.Errorf("aml: string %q: byte %#x at %d is not ASCII 0x01-0x7f", s, s[i], i)
			}
		}
		b = append(b, stringPrefix)
		b = append(b, s...)
		return append(b, 0), nil
	})
}

// Path is a reference to a named object, by a name string (see Name for
// the syntax).
func Path(path string) Term {
	return termFunc(func(b []byte) ([]byte, error) { return appendNameString(b, path) })
}

// Buffer is a buffer constant holding data.
func Buffer(data []byte) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		body, err := Int(uint64(len(data))).appendAML(nil)
		if err != nil {
			return nil, err
		}
		return appendPackageOp(b, []byte{bufferOp}, append(body, data...))
	})
}

// Package is a package constant of elements; more than 255 elements make
// it a VarPackage.
func Package(elements ...Term) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		var head []byte
		op := []byte{packageOp}
		if n := len(elements); n <= 0xff {
			head = []byte{byte(n)}
		} else {
			op = []byte{varPackageOp}
			head, _ = Int(uint64(n)).appendAML(nil)
		}
		body, err := appendTerms(head, elements)
		if err != nil {
			return nil, fmt.Errorf("aml: package: %w", err)
		}
		return appendPackageOp(b, op, body)
	})
}

// appendPackageOp appends op, then a PkgLength, then body.
func appendPackageOp(b, op, body []byte) ([]byte, error) {
	b = append(b, op...)
	return appendPackage(b, body)
}

// Name declares name with value: Name (name, value).
func Name(name string, value Term) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		b, err := appendNameString(append(b, nameOp), name)
		if err != nil {
			return nil, err
		}
		if value == nil {
			return nil, fmt.Errorf("aml: Name %s: nil value", name)
		}
		if b, err = value.appendAML(b); err != nil {
			return nil, fmt.Errorf("aml: Name %s: %w", name, err)
		}
		return b, nil
	})
}

// namedBlock encodes op PkgLength NameString [head] TermList, the shape of
// Scope, Device and Method.
func namedBlock(what string, op []byte, name string, head []byte, terms []Term) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		body, err := appendNameString(nil, name)
		if err != nil {
			return nil, err
		}
		body = append(body, head...)
		if body, err = appendTerms(body, terms); err != nil {
			return nil, fmt.Errorf("aml: %s %s: %w", what, name, err)
		}
		return appendPackageOp(b, op, body)
	})
}

// Scope opens the namespace scope name for terms.
func Scope(name string, terms ...Term) Term {
	return namedBlock("Scope", []byte{scopeOp}, name, nil, terms)
}

// Device declares the device object name holding terms.
func Device(name string, terms ...Term) Term {
	return namedBlock("Device", []byte{extOpPrefix, deviceExtOp}, name, nil, terms)
}

// Method declares a control method taking args arguments (0-7); a
// serialized method is never executed by two threads at once.
func Method(name string, args int, serialized bool, terms ...Term) Term {
	if args < 0 || args > maxMethodArgs {
		return termFunc(func([]byte) ([]byte, error) {
			return nil, fmt.Errorf("aml: Method %s: %d arguments, at most %d", name, args, maxMethodArgs)
		})
	}
	flags := byte(args)
	if serialized {
		flags |= 1 << 3
	}
	return namedBlock("Method", []byte{methodOp}, name, []byte{flags}, terms)
}

// Return returns value from a method.
func Return(value Term) Term { return operator("Return", []byte{returnOp}, value) }

// If executes terms when predicate is non-zero. An Else that follows it
// directly in the same term list is its else branch.
func If(predicate Term, terms ...Term) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		body, err := appendTerms(nil, append([]Term{predicate}, terms...))
		if err != nil {
			return nil, fmt.Errorf("aml: If: %w", err)
		}
		return appendPackageOp(b, []byte{ifOp}, body)
	})
}

// Else is the else branch of the If it follows.
func Else(terms ...Term) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		body, err := appendTerms(nil, terms)
		if err != nil {
			return nil, fmt.Errorf("aml: Else: %w", err)
		}
		return appendPackageOp(b, []byte{elseOp}, body)
	})
}

// operator encodes an opcode followed by its operands.
func operator(what string, op []byte, operands ...Term) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		b, err := appendTerms(append(b, op...), operands)
		if err != nil {
			return nil, fmt.Errorf("aml: %s: %w", what, err)
		}
		return b, nil
	})
}

// LEqual is the logical comparison a == b.
func LEqual(a, b Term) Term { return operator("LEqual", []byte{lEqualOp}, a, b) }

// And is the bitwise a & b, also stored into target unless target is nil.
func And(a, b, target Term) Term {
	return operator("And", []byte{andOp}, a, b, orNullTarget(target))
}

// Store copies source into destination (a name, local or argument).
func Store(source, destination Term) Term {
	return operator("Store", []byte{storeOp}, source, destination)
}

// Notify sends the notification value to the device object.
func Notify(object, value Term) Term {
	return operator("Notify", []byte{notifyOp}, object, value)
}

// orNullTarget returns target, or the NullName that means "no target".
func orNullTarget(target Term) Term {
	if target != nil {
		return target
	}
	return termFunc(func(b []byte) ([]byte, error) { return append(b, nullName), nil })
}

// Local is the method-local variable LocalN (0-7).
func Local(n int) Term { return indexedOp("Local", local0Op, n, maxLocal) }

// Arg is the method argument ArgN (0-6).
func Arg(n int) Term { return indexedOp("Arg", arg0Op, n, maxArg) }

func indexedOp(what string, op0 byte, n, max int) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		if n < 0 || n > max {
			return nil, fmt.Errorf("aml: %s%d: want 0 to %d", what, n, max)
		}
		return append(b, op0+byte(n)), nil
	})
}
