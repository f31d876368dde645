// Package sqlitedb is the scheduler's DB on an embedded SQLite (ncruces'
// SQLite build running on wazero), the same engine as a Durable Object's
// storage. `airlock run --local` and the scheduler's tests use it; the edge
// uses the Durable Object's own storage instead.
package sqlitedb

import (
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

// DB is one SQLite connection. It is not safe for concurrent use, like the
// scheduler that uses it.
type DB struct {
	conn *sqlite3.Conn
	inTx bool
}

// Open opens a database file, or an in-memory database for ":memory:".
func Open(path string) (*DB, error) {
	c, err := sqlite3.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &DB{conn: c}, nil
}

// Close closes the connection.
func (d *DB) Close() error { return d.conn.Close() }

// Exec runs one statement; see scheduler.DB.
func (d *DB) Exec(query string, args ...any) ([][]any, error) {
	st, _, err := d.conn.Prepare(query)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	for i, a := range args {
		var err error
		switch x := a.(type) {
		case nil:
			err = st.BindNull(i + 1)
		case string:
			err = st.BindText(i+1, x)
		case int64:
			err = st.BindInt64(i+1, x)
		case int:
			err = st.BindInt64(i+1, int64(x))
		case []byte:
			err = st.BindBlob(i+1, x)
		default:
			return nil, fmt.Errorf("sqlite: cannot bind %T", a)
		}
		if err != nil {
			return nil, err
		}
	}
	var rows [][]any
	for st.Step() {
		row := make([]any, st.ColumnCount())
		for c := range row {
			switch st.ColumnType(c) {
			case sqlite3.INTEGER:
				row[c] = st.ColumnInt64(c)
			case sqlite3.FLOAT:
				row[c] = st.ColumnFloat(c)
			case sqlite3.TEXT:
				row[c] = st.ColumnText(c)
			case sqlite3.BLOB:
				row[c] = append([]byte(nil), st.ColumnRawBlob(c)...)
			default:
				row[c] = nil
			}
		}
		rows = append(rows, row)
	}
	return rows, st.Err()
}

// Transaction runs fn in a transaction; see scheduler.DB. A panic in fn
// rolls back and is re-raised.
func (d *DB) Transaction(fn func() error) (err error) {
	if d.inTx {
		return fn()
	}
	if err := d.conn.Exec("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	d.inTx = true
	defer func() {
		d.inTx = false
		if r := recover(); r != nil {
			_ = d.conn.Exec("ROLLBACK")
			panic(r)
		}
		if err != nil {
			_ = d.conn.Exec("ROLLBACK")
			return
		}
		err = d.conn.Exec("COMMIT")
	}()
	return fn()
}
