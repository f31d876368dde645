// Package migrate brings a Durable Object's SQLite schema up to date.
//
// The schema version is kept in a table meta (key 'schema'). A schema is a
// list of migrations: migrations[i] is the statements that take version i
// to i+1, so len(migrations) is the version the code runs on. A database
// is never changed except by appending a migration; one newer than the
// code is refused, so that an older deployment never writes to a schema
// it does not know.
package migrate

import (
	"fmt"

	"github.com/airlockci/airlock/edge/internal/sqlcol"
)

// DB is SQLite storage; see sqlcol.DB for the contract.
type DB = sqlcol.DB

// Run applies, in one transaction, the migrations db has not had yet and
// records the new version. It fails, changing nothing, when db's version
// is newer than len(migrations) or a statement fails.
func Run(db DB, migrations [][]string) error {
	return db.Transaction(func() error {
		if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)`); err != nil {
			return err
		}
		rows, err := db.Exec(`SELECT value FROM meta WHERE key = 'schema'`)
		if err != nil {
			return err
		}
		version := 0
		if len(rows) > 0 {
			version = int(sqlcol.Int(rows[0][0]))
		}
		if version > len(migrations) {
			return fmt.Errorf("the database has schema version %d, newer than this code's %d: deploy the newer version", version, len(migrations))
		}
		for ; version < len(migrations); version++ {
			for _, stmt := range migrations[version] {
				if _, err := db.Exec(stmt); err != nil {
					return fmt.Errorf("schema version %d: %w", version+1, err)
				}
			}
		}
		_, err = db.Exec(`INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, int64(version))
		return err
	})
}
