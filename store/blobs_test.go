package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBlobCache(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, nil)
	got, err := db.Blobs.Get(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("empty cache returned %d blobs", len(got))
	}
	// More than one query's worth, to cross the IN-list chunking.
	want := map[string][]byte{}
	var shas []string
	for i := 0; i < 1200; i++ {
		sha := fmt.Sprintf("sha%04d", i)
		want[sha] = []byte(fmt.Sprintf("content %d", i))
		shas = append(shas, sha)
	}
	if err := db.Blobs.Put(ctx, want); err != nil {
		t.Fatal(err)
	}
	// A second put of the same SHA keeps the first content: SHAs name content.
	if err := db.Blobs.Put(ctx, map[string][]byte{"sha0000": []byte("other")}); err != nil {
		t.Fatal(err)
	}
	got, err = db.Blobs.Get(ctx, append(shas, "missing"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("blobs (-want +got):\n%s", diff)
	}
}

// TestPruneBlobs checks that the blobs still read stay cached however old
// they are, and those nobody read for longer than the cutoff go.
func TestPruneBlobs(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	db := mustOpen(t, c)
	if err := db.Blobs.Put(ctx, map[string][]byte{"used": []byte("u"), "unused": []byte("x")}); err != nil {
		t.Fatal(err)
	}
	// Read "used" every day for 40 days; "unused" is never read again.
	for day := 0; day < 40; day++ {
		c.Advance(24*time.Hour + time.Minute)
		if got, err := db.Blobs.Get(ctx, []string{"used"}); err != nil || string(got["used"]) != "u" {
			t.Fatalf("day %d: GetBlobs = %q, %v", day, got, err)
		}
	}
	n, err := db.Blobs.Prune(ctx, c.Now().Add(-30*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PruneBlobs = %d, %v; want 1", n, err)
	}
	got, err := db.Blobs.Get(ctx, []string{"used", "unused"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]byte{"used": []byte("u")}, got); diff != "" {
		t.Errorf("blobs left (-want +got):\n%s", diff)
	}
	// Writing a pruned blob again caches it again.
	if err := db.Blobs.Put(ctx, map[string][]byte{"unused": []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Blobs.Prune(ctx, c.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneBlobs right after a put = %d, %v; want 0", n, err)
	}
}
