// Package cfgval has config value types for the example plugins that accept
// a value both as JSON and as a string: a pipeline's YAML scalars and
// `airlock plugin run --config k=v` reach a plugin as strings ("true", "20").
package cfgval

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Bool is true or false, or the string "true" or "false".
type Bool bool

func (b *Bool) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) != nil {
		s = string(data)
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%s: want true or false", data)
	}
	*b = Bool(v)
	return nil
}

// Int is an integer, or a string that holds one.
type Int int

func (n *Int) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) != nil {
		s = string(data)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%s: want an integer", data)
	}
	*n = Int(v)
	return nil
}
