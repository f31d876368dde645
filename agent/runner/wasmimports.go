package runner

import (
	"bytes"
	"errors"
	"fmt"
)

// wasmMagic starts every WebAssembly binary module (version 1).
var wasmMagic = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// errNotWasm is returned for module bytes that are not a WebAssembly binary.
var errNotWasm = errors.New("not a WebAssembly module")

// checkWasm says, in a way a user can act on, why b is not a Wasm module.
func checkWasm(b []byte) error {
	if bytes.HasPrefix(b, wasmMagic) {
		return nil
	}
	if len(b) >= 4 && bytes.Equal(b[:4], wasmMagic[:4]) {
		return fmt.Errorf("%w: unsupported binary version % x (want 01 00 00 00)", errNotWasm, b[4:min(len(b), 8)])
	}
	start := b[:min(len(b), 16)]
	return fmt.Errorf("%w: it starts with %q, want the bytes \\0asm (a WebAssembly binary, such as one built with GOOS=wasip1 GOARCH=wasm)", errNotWasm, start)
}

// redirectImports returns a copy of module in which each function imported
// as from.module/name, for a name in names, is imported from to instead.
// Airlock serves Extism's http_request (and its companions) from its own
// host module this way: the go-sdk registers its implementation in the
// same module as the rest of the Extism ABI, with no way to replace one
// function. Nothing else in the module changes.
func redirectImports(module []byte, from, to string, names map[string]bool) ([]byte, error) {
	if !bytes.HasPrefix(module, wasmMagic) {
		return nil, checkWasm(module)
	}
	out, err := rewriteSection(module, 2, func(body []byte) ([]byte, error) {
		return rewriteImportSection(body, from, to, names)
	})
	if err != nil {
		return nil, fmt.Errorf("import section: %w", err)
	}
	return out, nil
}

// rewriteSection copies module, replacing the body of every section with
// this id by what rewrite returns; every other section is copied as it was.
func rewriteSection(module []byte, id byte, rewrite func(body []byte) ([]byte, error)) ([]byte, error) {
	out := make([]byte, 0, len(module)+64)
	out = append(out, wasmMagic...)
	for r := (wasmReader{b: module, off: len(wasmMagic)}); r.off < len(r.b); {
		start := r.off
		sid, body, err := r.section()
		if err != nil {
			return nil, err
		}
		if sid != id {
			out = append(out, module[start:r.off]...)
			continue
		}
		if body, err = rewrite(body); err != nil {
			return nil, err
		}
		out = append(out, sid)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out, nil
}

func rewriteImportSection(body []byte, from, to string, names map[string]bool) ([]byte, error) {
	r := wasmReader{b: body}
	count, err := r.u32()
	if err != nil {
		return nil, err
	}
	out := appendU32(make([]byte, 0, len(body)+32), count)
	for range count {
		module, err := r.name()
		if err != nil {
			return nil, err
		}
		field, err := r.name()
		if err != nil {
			return nil, err
		}
		descStart := r.off
		kind, err := r.byte()
		if err != nil {
			return nil, err
		}
		switch kind {
		case 0x00: // function: type index
			_, err = r.u32()
		case 0x01: // table: reference type, limits
			if _, err = r.byte(); err == nil {
				err = r.limits()
			}
		case 0x02: // memory: limits
			err = r.limits()
		case 0x03: // global: value type, mutability
			_, err = r.bytes(2)
		case 0x04: // tag (exception handling): attribute, type index
			if _, err = r.byte(); err == nil {
				_, err = r.u32()
			}
		default:
			return nil, fmt.Errorf("import %s.%s: unknown kind 0x%02x", module, field, kind)
		}
		if err != nil {
			return nil, err
		}
		if kind == 0x00 && module == from && names[field] {
			module = to
		}
		out = appendName(out, module)
		out = appendName(out, field)
		out = append(out, body[descStart:r.off]...)
	}
	if r.off != len(body) {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

// wasmReader reads the binary format's primitives, refusing to run past
// the end.
type wasmReader struct {
	b   []byte
	off int
}

var errTruncated = errors.New("truncated module")

func (r *wasmReader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errTruncated
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *wasmReader) bytes(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, errTruncated
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b, nil
}

// u32 reads an unsigned LEB128 of at most 5 bytes.
func (r *wasmReader) u32() (uint32, error) {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 0xffffffff {
				return 0, errors.New("integer too large")
			}
			return uint32(v), nil
		}
	}
	return 0, errors.New("integer too long")
}

func (r *wasmReader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(int(n))
	return string(b), err
}

// limits skips a table or memory limits: flags, minimum, maximum if flagged.
// Memory64 limits are u64s; they are skipped as LEB128s all the same.
func (r *wasmReader) limits() error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if err := r.skipLEB(); err != nil {
		return err
	}
	if flags&0x01 != 0 {
		return r.skipLEB()
	}
	return nil
}

func (r *wasmReader) skipLEB() error {
	for range 10 {
		c, err := r.byte()
		if err != nil {
			return err
		}
		if c&0x80 == 0 {
			return nil
		}
	}
	return errors.New("integer too long")
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}
