// Package sqlcol reads the column values a DB's Exec returns (see
// scheduler.DB): the same column comes back as int64 from the native
// SQLite the tests use and as float64 from the Durable Object's
// JavaScript, TEXT as string or []byte. A NULL or a value of another type
// reads as the zero value.
package sqlcol

// Int reads an INTEGER column.
func Int(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case int:
		return int64(x)
	}
	return 0
}

// String reads a TEXT column.
func String(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
}

// Bytes reads a BLOB column.
func Bytes(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	}
	return nil
}
