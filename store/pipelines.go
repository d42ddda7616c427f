package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"time"
)

// The values the store keeps are defined in package record; these names
// are the same types.
type (
	HarnessState  = record.HarnessState
	PipelineState = record.PipelineState
	BotPRState    = record.BotPRState
	BotPR         = record.BotPR
)

// Harness and bot PR states, as in package record.
const (
	HarnessInSync  = record.HarnessInSync
	HarnessPending = record.HarnessPending
	HarnessFailed  = record.HarnessFailed
	HarnessDrifted = record.HarnessDrifted
	HarnessDeleted = record.HarnessDeleted
	PROpen         = record.PROpen
	PRClosed       = record.PRClosed
	PRMerged       = record.PRMerged
)

const pipelineStateCols = `service, pipeline, path, archetype, team, last_rendered_commit,
	last_applied_commit, content_hash, harness_state, last_error, updated_at`

func scanPipelineState(s rowScanner) (PipelineState, error) {
	var p PipelineState
	var updated sql.NullInt64
	err := s.Scan(&p.Service, &p.Pipeline, &p.Path, &p.Archetype, &p.Team, &p.LastRenderedCommit,
		&p.LastAppliedCommit, &p.ContentHash, &p.HarnessState, &p.LastError, &updated)
	p.UpdatedAt = fromMS(updated)
	return p, err
}

// Upsert writes p, replacing the service's previous state.
func (ps *Pipelines) Upsert(ctx context.Context, p PipelineState) error {
	if p.Service == "" || p.Pipeline == "" {
		return fmt.Errorf("saving pipeline state: service and pipeline are required")
	}
	if p.HarnessState == "" {
		p.HarnessState = HarnessPending
	}
	err := ps.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO pipeline_states (`+pipelineStateCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (service) DO UPDATE SET
				pipeline = excluded.pipeline, path = excluded.path, archetype = excluded.archetype,
				team = excluded.team, last_rendered_commit = excluded.last_rendered_commit,
				last_applied_commit = excluded.last_applied_commit, content_hash = excluded.content_hash,
				harness_state = excluded.harness_state, last_error = excluded.last_error,
				updated_at = excluded.updated_at`,
			p.Service, p.Pipeline, p.Path, p.Archetype, p.Team, p.LastRenderedCommit,
			p.LastAppliedCommit, p.ContentHash, p.HarnessState, p.LastError, ms(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("saving pipeline state of %s: %w", p.Service, err)
	}
	return nil
}

// Get returns the state of service, or ErrNotFound.
func (ps *Pipelines) Get(ctx context.Context, service string) (PipelineState, error) {
	p, err := scanPipelineState(ps.db.read.QueryRowContext(ctx,
		`SELECT `+pipelineStateCols+` FROM pipeline_states WHERE service = ?`, service))
	if errors.Is(err, sql.ErrNoRows) {
		return PipelineState{}, fmt.Errorf("pipeline state of %s: %w", service, ErrNotFound)
	}
	if err != nil {
		return PipelineState{}, fmt.Errorf("reading pipeline state of %s: %w", service, err)
	}
	return p, nil
}

// List returns every service's state, ordered by service.
func (q *Pipelines) List(ctx context.Context) ([]PipelineState, error) {
	rows, err := q.db.read.QueryContext(ctx, `SELECT `+pipelineStateCols+` FROM pipeline_states ORDER BY service`)
	if err != nil {
		return nil, fmt.Errorf("listing pipeline states: %w", err)
	}
	defer rows.Close()
	var ps []PipelineState
	for rows.Next() {
		p, err := scanPipelineState(rows)
		if err != nil {
			return nil, fmt.Errorf("listing pipeline states: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing pipeline states: %w", err)
	}
	return ps, nil
}

const botPRCols = `repo, number, state, head_sha, desired_hash, source_commits, updated_at`

func scanBotPR(s rowScanner) (BotPR, error) {
	var p BotPR
	var commits string
	var updated sql.NullInt64
	if err := s.Scan(&p.Repo, &p.Number, &p.State, &p.HeadSHA, &p.DesiredHash, &commits, &updated); err != nil {
		return BotPR{}, err
	}
	if err := json.Unmarshal([]byte(commits), &p.SourceCommits); err != nil {
		return BotPR{}, fmt.Errorf("decoding source commits of #%d: %w", p.Number, err)
	}
	p.UpdatedAt = fromMS(updated)
	return p, nil
}

// Upsert writes p, replacing what was known of the same pull request.
func (b *BotPRs) Upsert(ctx context.Context, p BotPR) error {
	if p.Repo == "" || p.Number <= 0 {
		return fmt.Errorf("saving bot pull request: repo and number are required")
	}
	switch p.State {
	case PROpen, PRClosed, PRMerged:
	default:
		return fmt.Errorf("saving bot pull request %s#%d: unknown state %q", p.Repo, p.Number, p.State)
	}
	commits := p.SourceCommits
	if commits == nil {
		commits = []string{}
	}
	buf, err := json.Marshal(commits)
	if err != nil {
		return fmt.Errorf("saving bot pull request %s#%d: %w", p.Repo, p.Number, err)
	}
	err = b.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO bot_prs (`+botPRCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (repo, number) DO UPDATE SET
				state = excluded.state, head_sha = excluded.head_sha, desired_hash = excluded.desired_hash,
				source_commits = excluded.source_commits, updated_at = excluded.updated_at`,
			p.Repo, p.Number, p.State, p.HeadSHA, p.DesiredHash, string(buf), ms(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("saving bot pull request %s#%d: %w", p.Repo, p.Number, err)
	}
	return nil
}

// Open returns the open bot pull request of repo (the highest-numbered
// one, should there be several), or ErrNotFound.
func (b *BotPRs) Open(ctx context.Context, repo string) (BotPR, error) {
	p, err := scanBotPR(b.db.read.QueryRowContext(ctx, `SELECT `+botPRCols+` FROM bot_prs
		WHERE repo = ? AND state = 'open' ORDER BY number DESC LIMIT 1`, repo))
	if errors.Is(err, sql.ErrNoRows) {
		return BotPR{}, fmt.Errorf("open bot pull request of %s: %w", repo, ErrNotFound)
	}
	if err != nil {
		return BotPR{}, fmt.Errorf("reading open bot pull request of %s: %w", repo, err)
	}
	return p, nil
}

// List returns up to limit bot pull requests of repo (all repositories
// when repo is empty), most recently updated first.
func (b *BotPRs) List(ctx context.Context, repo string, limit int) ([]BotPR, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := b.db.read.QueryContext(ctx, `SELECT `+botPRCols+` FROM bot_prs
		WHERE ?1 = '' OR repo = ?1 ORDER BY updated_at DESC, number DESC LIMIT ?2`, repo, limit)
	if err != nil {
		return nil, fmt.Errorf("listing bot pull requests: %w", err)
	}
	defer rows.Close()
	var ps []BotPR
	for rows.Next() {
		p, err := scanBotPR(rows)
		if err != nil {
			return nil, fmt.Errorf("listing bot pull requests: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing bot pull requests: %w", err)
	}
	return ps, nil
}
