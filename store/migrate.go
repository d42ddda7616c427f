package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded schema change, numbered from 1 without gaps.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations is the schema history, oldest first.
var migrations = mustLoadMigrations()

func mustLoadMigrations() []migration {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	var ms []migration
	for i, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			panic(fmt.Sprintf("store: migration %s: want a name starting %04d_", name, i+1))
		}
		body, err := fs.ReadFile(migrationFS, name)
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(body)})
	}
	return ms
}

// LatestSchemaVersion returns the schema version this build of the store
// migrates files to.
func LatestSchemaVersion() int { return len(migrations) }

// migrate brings the file up to schema version upTo. Each migration runs in
// its own IMMEDIATE transaction together with its row in schema_migrations,
// so a crash leaves the file at a whole version, and two processes opening
// the same file at once apply each migration exactly once. A file written by
// a newer build (a version this build does not know) is refused rather than
// used with a schema the code does not understand.
func (db *DB) migrate(ctx context.Context, upTo int) error {
	err := db.writeTx(ctx, func(tx *sql.Tx, _ time.Time) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}

	var current int
	if err := db.write.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this build's %d", current, len(migrations))
	}

	for _, m := range migrations[:upTo] {
		err := db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil // applied earlier, or by another process just now
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, ms(now))
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %s: %w", m.name, err)
		}
	}
	return nil
}

// SchemaVersion reports the highest migration applied to the open file.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := db.read.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return v, nil
}
