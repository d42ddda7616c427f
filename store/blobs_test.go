package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBlobCache(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, nil)
	got, err := db.GetBlobs(ctx, []string{"a", "b"})
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
	if err := db.PutBlobs(ctx, want); err != nil {
		t.Fatal(err)
	}
	// A second put of the same SHA keeps the first content: SHAs name content.
	if err := db.PutBlobs(ctx, map[string][]byte{"sha0000": []byte("other")}); err != nil {
		t.Fatal(err)
	}
	got, err = db.GetBlobs(ctx, append(shas, "missing"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("blobs (-want +got):\n%s", diff)
	}
}
