package oidcjwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

const maxJSONDepth = 32

// CheckJSON walks one JSON document and refuses what encoding/json lets
// through silently: duplicate object keys (compared case-insensitively,
// as encoding/json matches fields and as HTTP compares header names),
// nesting deeper than maxJSONDepth, and trailing data.
func CheckJSON(data []byte) error {
	type frame struct {
		object  bool
		wantKey bool
		keys    map[string]bool
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	started := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if !started || len(stack) > 0 {
				return errors.New("unexpected end of JSON")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("invalid JSON: %v", err)
		}
		if started && len(stack) == 0 {
			return errors.New("invalid JSON: data after the top-level value")
		}
		started = true
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			k, _ := tok.(string) // Token guarantees a string key here
			lk := strings.ToLower(k)
			if top.keys[lk] {
				return fmt.Errorf("duplicate field %s", Quote(k))
			}
			top.keys[lk] = true
			top.wantKey = false
			continue
		}
		if top != nil && top.object {
			top.wantKey = true
		}
		if d, ok := tok.(json.Delim); ok {
			if len(stack) == maxJSONDepth {
				return fmt.Errorf("JSON nested deeper than %d levels", maxJSONDepth)
			}
			stack = append(stack, &frame{object: d == '{', wantKey: d == '{', keys: map[string]bool{}})
		}
	}
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
