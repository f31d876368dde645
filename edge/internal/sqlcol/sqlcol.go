// Package sqlcol is the Durable Objects' SQLite storage contract (DB) and
// reads the column values its Exec returns: the same column comes back as
// int64 from the native SQLite the tests use and as float64 from the
// Durable Object's JavaScript, TEXT as string or []byte. A NULL or a value
// of another type reads as the zero value.
package sqlcol

// DB is SQLite storage: the Durable Object's (edge/internal/jsdo) or, in
// tests, a native one (internal/sqlitedb).
//
// Exec runs one statement with positional `?` arguments (string, int64,
// []byte or nil) and returns its result rows, each a slice of column values
// (string, int64 or float64, []byte, or nil). Transaction runs fn so that
// either everything it wrote is kept or, when fn returns an error, nothing.
// A DB need not be safe for concurrent use: its users serialise their calls.
type DB interface {
	Exec(query string, args ...any) ([][]any, error)
	Transaction(fn func() error) error
}

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
