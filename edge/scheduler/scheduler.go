// Package scheduler is the control plane's brain: it holds runs, jobs, leases
// and logs in SQLite, speaks the wire protocol with connected agents, pushes
// each job to an idle agent with matching tags the moment it becomes runnable,
// and serves the HTTP API.
//
// It runs inside the Scheduler Durable Object, but it never touches
// syscall/js: the Durable Object's SQLite storage, its hibernatable sockets
// and its clock reach it through the DB, Sockets and Clock interfaces, so the
// same code is tested natively against a real SQLite.
//
// Concurrency: a Scheduler is not safe for concurrent use. The Durable Object
// delivers one event at a time (fetch, socket message, socket close, alarm)
// and each method completes synchronously, so every event sees and leaves a
// consistent database. Go memory is only a cache: an evicted object boots a
// fresh Scheduler that rebuilds everything from the database.
package scheduler

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/airlockci/airlock/edge/internal/migrate"
	"github.com/airlockci/airlock/edge/internal/sqlcol"
)

// DB is SQLite storage; see sqlcol.DB for the contract.
type DB = sqlcol.DB

// Sockets are the agents' open WebSocket connections, named by connection ID.
// Send and Close on a connection that is already gone do nothing and return
// nil: the close event for it arrives (or arrived) separately.
type Sockets interface {
	Send(conn string, frame []byte) error
	Close(conn string, code int, reason string)
	// Open lists the connection IDs that are open now.
	Open() []string
}

// Alarm schedules the next call to Scheduler.Alarm.
type Alarm interface {
	Set(at time.Time)
}

// Config is the scheduler's deployment configuration.
type Config struct {
	// Log receives operational messages (errors with their ID).
	Log func(format string, args ...any)
}

// Scheduler is the control plane's state machine. Create it with New.
type Scheduler struct {
	db      DB
	sockets Sockets
	alarm   Alarm
	now     func() time.Time
	cfg     Config
	// alarmAt is when the alarm was last set by this instance; zero after
	// a boot, when it is not known.
	alarmAt time.Time
}

// New opens the scheduler on db, creating or migrating its tables.
func New(db DB, sockets Sockets, alarm Alarm, now func() time.Time, cfg Config) (*Scheduler, error) {
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	s := &Scheduler{db: db, sockets: sockets, alarm: alarm, now: now, cfg: cfg}
	if err := migrate.Run(db, migrations); err != nil {
		return nil, fmt.Errorf("scheduler: migrate: %w", err)
	}
	return s, nil
}

// migrations bring the database from one schema version to the next:
// migrations[i] takes version i to i+1 (see package migrate). A database
// is never changed except by appending a migration here.
var migrations = [][]string{schemaV1, schemaV2, schemaV3}

// schemaV3 is for the dashboard (issue 7): jobs a person retries (who,
// and the attempt from which automatic retries count again), runs rebuilt
// from another, and when an agent went away. Agents already disconnected
// get their last sign of life as that time.
var schemaV3 = []string{
	`ALTER TABLE jobs ADD COLUMN retried_by TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE jobs ADD COLUMN retry_from INTEGER NOT NULL DEFAULT 1`,
	`ALTER TABLE runs ADD COLUMN rebuild_of TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE agents ADD COLUMN disconnected_ms INTEGER NOT NULL DEFAULT 0`,
	`UPDATE agents SET disconnected_ms = last_seen_ms WHERE connected = 0`,
}

// schemaV2 records who started a run (issue 6: people sign in).
var schemaV2 = []string{
	`ALTER TABLE runs ADD COLUMN created_by TEXT NOT NULL DEFAULT ''`,
}

// schemaV1 is the first schema.
var schemaV1 = []string{
	`CREATE TABLE IF NOT EXISTS runs (
		id TEXT PRIMARY KEY,
		number INTEGER NOT NULL UNIQUE,
		state TEXT NOT NULL,
		filename TEXT NOT NULL,
		source TEXT NOT NULL,
		repository TEXT NOT NULL,
		commit_sha TEXT NOT NULL,
		branch TEXT NOT NULL,
		message TEXT NOT NULL,
		created_ms INTEGER NOT NULL,
		finished_ms INTEGER NOT NULL DEFAULT 0,
		cancel_requested INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE IF NOT EXISTS jobs (
		id TEXT PRIMARY KEY,
		run_id TEXT NOT NULL,
		idx INTEGER NOT NULL,
		key TEXT NOT NULL,
		label TEXT NOT NULL,
		spec BLOB NOT NULL,
		tags TEXT NOT NULL,
		state TEXT NOT NULL,
		attempt INTEGER NOT NULL DEFAULT 0,
		lost INTEGER NOT NULL DEFAULT 0,
		agent_id TEXT NOT NULL DEFAULT '',
		agent_name TEXT NOT NULL DEFAULT '',
		lease_ms INTEGER NOT NULL DEFAULT 0,
		queued_ms INTEGER NOT NULL DEFAULT 0,
		started_ms INTEGER NOT NULL DEFAULT 0,
		finished_ms INTEGER NOT NULL DEFAULT 0,
		exit_status INTEGER,
		reason TEXT NOT NULL DEFAULT '',
		soft_failed INTEGER NOT NULL DEFAULT 0,
		cancel_requested INTEGER NOT NULL DEFAULT 0,
		log_seq INTEGER NOT NULL DEFAULT 0,
		UNIQUE (run_id, key)
	)`,
	`CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, queued_ms)`,
	`CREATE TABLE IF NOT EXISTS deps (
		run_id TEXT NOT NULL,
		key TEXT NOT NULL,
		dep TEXT NOT NULL,
		allow_failure INTEGER NOT NULL,
		PRIMARY KEY (run_id, key, dep)
	)`,
	`CREATE INDEX IF NOT EXISTS deps_by_dep ON deps (run_id, dep)`,
	`CREATE INDEX IF NOT EXISTS jobs_by_agent ON jobs (agent_id, state)`,
	`CREATE TABLE IF NOT EXISTS logs (
		job_id TEXT NOT NULL,
		attempt INTEGER NOT NULL,
		seq INTEGER NOT NULL,
		data BLOB NOT NULL,
		PRIMARY KEY (job_id, attempt, seq)
	)`,
	`CREATE TABLE IF NOT EXISTS agents (
		id TEXT PRIMARY KEY,
		identity TEXT NOT NULL,
		name TEXT NOT NULL,
		tags TEXT NOT NULL DEFAULT '{}',
		slots INTEGER NOT NULL DEFAULT 1,
		version TEXT NOT NULL DEFAULT '',
		conn TEXT NOT NULL DEFAULT '',
		connected INTEGER NOT NULL DEFAULT 0,
		ready INTEGER NOT NULL DEFAULT 0,
		connected_ms INTEGER NOT NULL DEFAULT 0,
		last_seen_ms INTEGER NOT NULL DEFAULT 0,
		pool TEXT NOT NULL DEFAULT '',
		UNIQUE (identity, name)
	)`,
	`CREATE INDEX IF NOT EXISTS agents_by_conn ON agents (conn)`,
	`CREATE TABLE IF NOT EXISTS conns (
		conn TEXT PRIMARY KEY,
		identity TEXT NOT NULL,
		pool TEXT NOT NULL,
		tags TEXT NOT NULL,
		agent_id TEXT NOT NULL,
		opened_ms INTEGER NOT NULL,
		expires_ms INTEGER NOT NULL,
		next_ms INTEGER NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS challenges (
		id TEXT PRIMARY KEY,
		conn TEXT NOT NULL,
		expires_ms INTEGER NOT NULL
	)`,
}

// SchemaVersion is the database schema version this code runs on.
var SchemaVersion = len(migrations)

func (s *Scheduler) nowMS() int64 { return s.now().UnixMilli() }

// newID returns prefix followed by 96 random bits in hex.
func newID(prefix string) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return prefix + hex.EncodeToString(b[:])
}

// Short names for sqlcol's readers: every query reads rows with them.
func asInt(v any) int64     { return sqlcol.Int(v) }
func asString(v any) string { return sqlcol.String(v) }
func asBytes(v any) []byte  { return sqlcol.Bytes(v) }

// exec runs a statement whose failure means the storage is broken; the
// caller's event fails as a whole (the Durable Object's transaction rolls
// back), so panicking keeps the call sites readable.
func (s *Scheduler) exec(query string, args ...any) [][]any {
	rows, err := s.db.Exec(query, args...)
	if err != nil {
		panic(storageError{fmt.Errorf("%w (in %.60q)", err, query)})
	}
	return rows
}

type storageError struct{ err error }

func (e storageError) Error() string { return "storage: " + e.err.Error() }
