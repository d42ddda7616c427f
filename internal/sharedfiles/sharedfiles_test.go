package sharedfiles

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPathFollowsTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "schemas"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "schemas", "x.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvDir, dir)

	p, ok := Path("schemas", "x.json")
	if want := filepath.Join(dir, "schemas", "x.json"); p != want || !ok {
		t.Errorf("Path(schemas, x.json) = %q, %v; want %q, true", p, ok, want)
	}
	p, ok = Path("schemas", "missing.json")
	if want := filepath.Join(dir, "schemas", "missing.json"); p != want || ok {
		t.Errorf("Path(schemas, missing.json) = %q, %v; want %q, false", p, ok, want)
	}
}

func TestPathDefaultsToSharedBesideTheModuleRoot(t *testing.T) {
	t.Setenv(EnvDir, "")
	root := t.TempDir()
	module := filepath.Join(root, "checkout")
	deep := filepath.Join(module, "a", "b")
	for _, d := range []string{deep, filepath.Join(root, "shared", "schemas")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(module, "go.mod"), []byte("module example.com/m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(deep)

	p, ok := Path("schemas")
	if want := filepath.Join(root, "shared", "schemas"); !ok || !sameFile(t, p, want) {
		t.Errorf("Path(schemas) = %q, %v; want %q, true", p, ok, want)
	}
	if _, ok := Path("nothing-here"); ok {
		t.Error("Path(nothing-here) reports a file that does not exist")
	}
}

func TestPathWithoutAModuleRoot(t *testing.T) {
	t.Setenv(EnvDir, "")
	t.Chdir(t.TempDir())
	if root, err := moduleRoot(); err == nil {
		t.Skipf("the temporary directory is inside a module (%s)", root)
	}
	if p, ok := Path("schemas"); p != "" || ok {
		t.Errorf("Path(schemas) = %q, %v; want \"\", false", p, ok)
	}
}

// sameFile compares two paths that may differ by symbolic links (a
// temporary directory often sits behind one).
func sameFile(tb testing.TB, a, b string) bool {
	tb.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}
