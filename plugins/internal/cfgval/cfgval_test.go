package cfgval

import (
	"encoding/json"
	"testing"
)

func TestUnmarshal(t *testing.T) {
	var c struct {
		B1, B2 Bool
		N1, N2 Int
	}
	if err := json.Unmarshal([]byte(`{"B1":true,"B2":"false","N1":-1,"N2":"20"}`), &c); err != nil {
		t.Fatal(err)
	}
	if !c.B1 || c.B2 || c.N1 != -1 || c.N2 != 20 {
		t.Errorf("got %+v", c)
	}
	for _, bad := range []string{`{"B1":"yes please"}`, `{"B1":1.5}`, `{"N1":"x"}`, `{"N1":1.5}`} {
		if err := json.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
