package runner

import (
	"bytes"
	"os"
	"testing"
)

// exportModule is a module with only an export section exporting
// functions under names (the indices need not exist: only the binary is
// read).
func exportModule(names ...string) []byte {
	body := appendU32(nil, uint32(len(names)))
	for i, n := range names {
		body = appendName(body, n)
		body = append(body, 0x00)
		body = appendU32(body, uint32(i))
	}
	m := append([]byte{}, wasmMagic...)
	m = append(m, 1, 1, 0) // an empty type section before it
	m = append(m, 7)
	m = appendU32(m, uint32(len(body)))
	return append(m, body...)
}

func TestRenameInitExports(t *testing.T) {
	tests := []struct {
		name        string
		module      []byte
		wantRenamed bool
		wantNames   []string // exported afterwards
		wantErr     bool
	}{
		{"reactor", exportModule("_initialize", "run"), true, []string{initExport, "run"}, false},
		{"reactor with constructors", exportModule("__wasm_call_ctors", "_initialize", "run"), true, []string{ctorsExport, initExport, "run"}, false},
		{"command", exportModule("_start", "__wasm_call_ctors"), false, []string{"_start", "__wasm_call_ctors"}, false},
		{"haskell", exportModule("_initialize", "hs_init", "run"), false, []string{"_initialize", "hs_init", "run"}, false},
		{"already has the name", exportModule("_initialize", initExport), false, []string{"_initialize", initExport}, false},
		{"no exports", append([]byte{}, wasmMagic...), false, nil, false},
		{"not wasm", []byte("#!/bin/sh\n"), false, nil, true},
		{"truncated section", append(append([]byte{}, wasmMagic...), 7, 10, 1), false, nil, true},
		{"truncated export", append(append([]byte{}, wasmMagic...), 7, 3, 1, 5, 'a'), false, nil, true},
		{"trailing bytes in the section", append(append([]byte{}, wasmMagic...), 7, 2, 0, 0), false, nil, true},
		{"name longer than the section", append(append([]byte{}, wasmMagic...), 7, 3, 1, 0x7f, 'a'), false, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, renamed, err := renameInitExports(tt.module)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if renamed != tt.wantRenamed {
				t.Errorf("renamed = %v, want %v", renamed, tt.wantRenamed)
			}
			if !renamed && !bytes.Equal(got, tt.module) {
				t.Errorf("the module changed although nothing was renamed")
			}
			names := exportedFunctions(t, got)
			if len(names) != len(tt.wantNames) {
				t.Fatalf("exports %q, want %q", names, tt.wantNames)
			}
			for i := range names {
				if names[i] != tt.wantNames[i] {
					t.Errorf("exports %q, want %q", names, tt.wantNames)
				}
			}
		})
	}
}

// exportedFunctions lists a module's function exports in order.
func exportedFunctions(t *testing.T, module []byte) []string {
	t.Helper()
	var names []string
	for r := (wasmReader{b: module, off: len(wasmMagic)}); r.off < len(r.b); {
		id, body, err := r.section()
		if err != nil {
			t.Fatal(err)
		}
		if id != 7 {
			continue
		}
		er := wasmReader{b: body}
		n, err := er.u32()
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			name, _, err := er.export()
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
	}
	return names
}

// A Go plugin is a reactor: its runtime is initialised through the
// renamed export.
func TestRenameInitExportsGoPlugin(t *testing.T) {
	module, err := os.ReadFile(wasmModule(t, "./testdata/testplugin"))
	if err != nil {
		t.Fatal(err)
	}
	got, renamed, err := renameInitExports(module)
	if err != nil || !renamed {
		t.Fatalf("renamed %v, %v; want a Go plugin renamed", renamed, err)
	}
	before, after := exportedFunctions(t, module), exportedFunctions(t, got)
	if len(before) != len(after) {
		t.Fatalf("exports %q became %q", before, after)
	}
	for i := range before {
		want := before[i]
		if want == "_initialize" {
			want = initExport
		}
		if after[i] != want {
			t.Errorf("export %d: %q became %q, want %q", i, before[i], after[i], want)
		}
	}
}

func FuzzRenameInitExports(f *testing.F) {
	f.Add(exportModule("_initialize", "run"))
	f.Add(exportModule("__wasm_call_ctors", "_initialize"))
	f.Add(exportModule("_start"))
	f.Add(append(append([]byte{}, wasmMagic...), 7, 3, 1, 5, 'a'))
	f.Fuzz(func(t *testing.T, module []byte) {
		got, renamed, err := renameInitExports(module)
		if err != nil || !renamed {
			return
		}
		// What was renamed reads back, and is renamed no further.
		if _, again, err := renameInitExports(got); err != nil || again {
			t.Errorf("renamed module: renamed again %v, %v", again, err)
		}
	})
}
