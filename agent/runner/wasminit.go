package runner

import (
	"errors"
	"fmt"
)

// initExport is what a reactor module's _initialize export is renamed to
// before it is compiled, so that Airlock, not Extism, decides when the
// guest's runtime and package initialisers run: in a spare instance, ahead
// of the step (see instancePool). The colon keeps it from colliding with a
// function a PDK can export, and a step may not call it.
const initExport = "airlock:initialize"

// ctorsExport is what __wasm_call_ctors is renamed to when the module also
// exports _initialize: Extism would otherwise take the module for a WASI
// command and run its constructors a second time on the first call.
const ctorsExport = "airlock:call_ctors"

// renameInitExports returns module with its _initialize export renamed to
// initExport (and __wasm_call_ctors to ctorsExport), and whether it did.
// Modules it leaves alone, whose runtime Extism initialises on the first
// call as before: those without _initialize (WASI commands, modules without
// a runtime), Haskell modules (hs_init must follow _initialize in the same
// step), and a module that already exports either new name.
func renameInitExports(module []byte) ([]byte, bool, error) {
	if err := checkWasm(module); err != nil {
		return nil, false, err
	}
	var exports []byte // the export section's body
	for r := (wasmReader{b: module, off: len(wasmMagic)}); r.off < len(r.b); {
		id, body, err := r.section()
		if err != nil {
			return nil, false, err
		}
		if id == 7 {
			exports = body
			break
		}
	}
	if exports == nil {
		return module, false, nil
	}
	names, err := exportNames(exports)
	if err != nil {
		return nil, false, fmt.Errorf("export section: %w", err)
	}
	if !names["_initialize"] || names["hs_init"] || names[initExport] || names[ctorsExport] {
		return module, false, nil
	}
	renames := map[string]string{"_initialize": initExport, "__wasm_call_ctors": ctorsExport}
	out, err := rewriteSection(module, 7, func(body []byte) ([]byte, error) {
		return renameExports(body, renames)
	})
	if err != nil {
		return nil, false, fmt.Errorf("export section: %w", err)
	}
	return out, true, nil
}

// section reads one section: its id and body.
func (r *wasmReader) section() (byte, []byte, error) {
	id, err := r.byte()
	if err != nil {
		return 0, nil, err
	}
	size, err := r.u32()
	if err != nil {
		return 0, nil, err
	}
	body, err := r.bytes(int(size))
	if err != nil {
		return 0, nil, fmt.Errorf("section %d: %w", id, err)
	}
	return id, body, nil
}

// export reads one entry of the export section.
func (r *wasmReader) export() (name string, kind byte, err error) {
	if name, err = r.name(); err != nil {
		return "", 0, err
	}
	if kind, err = r.byte(); err != nil {
		return "", 0, err
	}
	_, err = r.u32()
	return name, kind, err
}

// exportNames lists the functions an export section exports.
func exportNames(body []byte) (map[string]bool, error) {
	r := wasmReader{b: body}
	count, err := r.u32()
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for range count {
		name, kind, err := r.export()
		if err != nil {
			return nil, err
		}
		if kind == 0x00 {
			names[name] = true
		}
	}
	if r.off != len(body) {
		return nil, errors.New("trailing bytes")
	}
	return names, nil
}

// renameExports rewrites the names of exported functions found in renames.
func renameExports(body []byte, renames map[string]string) ([]byte, error) {
	r := wasmReader{b: body}
	count, err := r.u32()
	if err != nil {
		return nil, err
	}
	out := appendU32(make([]byte, 0, len(body)+32), count)
	for range count {
		start := r.off
		name, err := r.name()
		if err != nil {
			return nil, err
		}
		nameEnd := r.off
		kind, err := r.byte()
		if err != nil {
			return nil, err
		}
		if _, err := r.u32(); err != nil {
			return nil, err
		}
		if to, ok := renames[name]; ok && kind == 0x00 {
			out = appendName(out, to)
			out = append(out, body[nameEnd:r.off]...) // kind and index
			continue
		}
		out = append(out, body[start:r.off]...)
	}
	if r.off != len(body) {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}
