package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

func TestSchemas(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, newClock())
	if _, _, err := db.Schemas.Schema(ctx, "Pipelines"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Schema of an empty store: %v, want ErrNotFound", err)
	}

	first := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := db.Schemas.PutSchema(ctx, "Pipelines", []byte(`{"v":1}`), first); err != nil {
		t.Fatal(err)
	}
	if err := db.Schemas.PutSchema(ctx, "Triggers", []byte(`{"t":1}`), first); err != nil {
		t.Fatal(err)
	}
	next := first.Add(25 * time.Hour)
	if err := db.Schemas.PutSchema(ctx, "Pipelines", []byte(`{"v":2}`), next); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		entity string
		want   string
		at     time.Time
	}{{"Pipelines", `{"v":2}`, next}, {"Triggers", `{"t":1}`, first}} {
		got, at, err := db.Schemas.Schema(ctx, tt.entity)
		if err != nil || string(got) != tt.want || !at.Equal(tt.at) {
			t.Errorf("Schema(%s) = %s, %v, %v; want %s, %v", tt.entity, got, at, err, tt.want, tt.at)
		}
	}
}

func TestPutSchemaRefusesNothing(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, newClock())
	if err := db.Schemas.PutSchema(ctx, "", []byte(`{}`), time.Now()); err == nil {
		t.Error("PutSchema without an entity type succeeded")
	}
	if err := db.Schemas.PutSchema(ctx, "Pipelines", nil, time.Now()); err == nil {
		t.Error("PutSchema of an empty schema succeeded")
	}
	if _, _, err := db.Schemas.Schema(ctx, "Pipelines"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after refused puts, Schema = %v, want ErrNotFound", err)
	}
}
