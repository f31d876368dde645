package migrate_test

import (
	"strings"
	"testing"

	"github.com/airlockci/airlock/edge/internal/migrate"
	"github.com/airlockci/airlock/internal/sqlitedb"
)

func open(t *testing.T) *sqlitedb.DB {
	t.Helper()
	db, err := sqlitedb.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func version(t *testing.T, db *sqlitedb.DB) int64 {
	t.Helper()
	rows, err := db.Exec(`SELECT value FROM meta WHERE key = 'schema'`)
	if err != nil || len(rows) != 1 {
		t.Fatalf("schema version: got %v, %v; want one row", rows, err)
	}
	return rows[0][0].(int64)
}

var (
	v1 = []string{`CREATE TABLE a (x INTEGER)`, `INSERT INTO a VALUES (1)`}
	v2 = []string{`ALTER TABLE a ADD COLUMN y INTEGER NOT NULL DEFAULT 2`}
)

func TestRun(t *testing.T) {
	db := open(t)
	if err := migrate.Run(db, [][]string{v1}); err != nil {
		t.Fatalf("fresh database: %v", err)
	}
	if got := version(t, db); got != 1 {
		t.Fatalf("version: got %d, want 1", got)
	}
	// Again, and with one more migration: only the new one runs.
	if err := migrate.Run(db, [][]string{v1}); err != nil {
		t.Fatalf("same version: %v", err)
	}
	if err := migrate.Run(db, [][]string{v1, v2}); err != nil {
		t.Fatalf("one newer migration: %v", err)
	}
	rows, err := db.Exec(`SELECT x, y FROM a`)
	if err != nil || len(rows) != 1 || rows[0][0] != int64(1) || rows[0][1] != int64(2) {
		t.Fatalf("table a: got %v, %v; want one row 1, 2", rows, err)
	}
	if got := version(t, db); got != 2 {
		t.Fatalf("version: got %d, want 2", got)
	}
}

func TestRunRefusesNewerDatabase(t *testing.T) {
	db := open(t)
	if err := migrate.Run(db, [][]string{v1, v2}); err != nil {
		t.Fatal(err)
	}
	err := migrate.Run(db, [][]string{v1})
	want := "the database has schema version 2, newer than this code's 1: deploy the newer version"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestRunFailureChangesNothing(t *testing.T) {
	db := open(t)
	if err := migrate.Run(db, [][]string{v1}); err != nil {
		t.Fatal(err)
	}
	bad := []string{`CREATE TABLE b (x INTEGER)`, `NOT SQL`}
	err := migrate.Run(db, [][]string{v1, bad})
	if err == nil || !strings.HasPrefix(err.Error(), "schema version 2: ") {
		t.Fatalf("got %v, want an error starting %q", err, "schema version 2: ")
	}
	if got := version(t, db); got != 1 {
		t.Fatalf("version: got %d, want 1", got)
	}
	if _, err := db.Exec(`SELECT * FROM b`); err == nil {
		t.Fatalf("table b exists; want the failed migration rolled back")
	}
}
