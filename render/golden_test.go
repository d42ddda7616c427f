package render

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	udiff "github.com/aymanbagabas/go-udiff"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/*/want")

// goldenCase is one directory under testdata with a catalog.yaml: the
// inputs of a rendering, and under want/ the pipelines repo files it must
// produce.
type goldenCase struct {
	name      string
	dir       string
	settings  catalog.Settings
	templates *Templates
	catalog   catalog.Catalog
}

// errorsFile names, in the directory of a case whose name starts with
// "check-", the diagnostics the case must give instead of files: one per
// line, in the compiler form.
const errorsFile = "errors.txt"

// goldenCases loads every case under testdata that renders.
func goldenCases(tb testing.TB) []goldenCase {
	return loadCases(tb, false)
}

// loadCases loads the cases under testdata that render (failing false)
// or those that must fail ("check-…", with the diagnostics of their
// errors.txt).
func loadCases(tb testing.TB, failing bool) []goldenCase {
	tb.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "catalog.yaml"))
	if err != nil || len(dirs) == 0 {
		tb.Fatalf("no golden cases in testdata (err %v)", err)
	}
	var cases []goldenCase
	for _, f := range dirs {
		dir := filepath.Dir(f)
		if strings.HasPrefix(filepath.Base(dir), "check-") != failing {
			continue
		}
		c := goldenCase{name: filepath.Base(dir), dir: dir, settings: catalog.DefaultSettings()}
		if src, err := os.ReadFile(filepath.Join(dir, "settings.yml")); err == nil {
			s, diags := catalog.ParseSettings(".pipeline-orchestrator.yml", src)
			if len(diags) > 0 {
				tb.Fatalf("%s: settings: %v", dir, diags)
			}
			c.settings = s
		}
		repo := map[string][]byte{}
		tdir := filepath.Join(dir, "templates")
		if entries, err := os.ReadDir(tdir); err == nil {
			for _, e := range entries {
				src, err := os.ReadFile(filepath.Join(tdir, e.Name()))
				if err != nil {
					tb.Fatal(err)
				}
				repo[c.settings.TemplatesDir+"/"+e.Name()] = src
			}
		}
		t, diags := LoadTemplates(repo)
		if len(diags) > 0 {
			tb.Fatalf("%s: templates: %v", dir, diags)
		}
		c.templates = t
		src, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		cat, diags := catalog.Parse(testCatalogPath, src, catalog.ParseOptions{Settings: c.settings, Archetypes: t.Archetypes()})
		if len(diags) > 0 {
			tb.Fatalf("%s: catalog: %v", dir, diags)
		}
		c.catalog = cat
		cases = append(cases, c)
	}
	return cases
}

func (c goldenCase) render(tb testing.TB, src Source) map[string][]byte {
	tb.Helper()
	out, diags := All(c.templates, c.catalog, testOpts(tb, c.settings, src))
	if len(diags) > 0 {
		tb.Fatalf("All: %v", diags)
	}
	return out
}

// TestGoldenErrors renders the cases that must fail and compares their
// diagnostics, each with its template line, with errors.txt.
func TestGoldenErrors(t *testing.T) {
	for _, c := range loadCases(t, true) {
		t.Run(c.name, func(t *testing.T) {
			out, diags := All(c.templates, c.catalog, testOpts(t, c.settings, testSource()))
			if len(diags) == 0 {
				t.Fatalf("rendered %d files without a diagnostic", len(out))
			}
			var b strings.Builder
			for _, d := range diags {
				b.WriteString(d.String() + "\n")
			}
			checkGolden(t, filepath.Join(c.dir, errorsFile), []byte(b.String()))
		})
	}
}

// wantFiles reads the files under dir/want, keyed by their path below it.
func wantFiles(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	files := map[string][]byte{}
	root := filepath.Join(dir, "want")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".got") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	return files
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got := c.render(t, testSource())
			want := filepath.Join(c.dir, "want")
			if *update {
				if err := os.RemoveAll(want); err != nil {
					t.Fatal(err)
				}
				for p, b := range got {
					f := filepath.Join(want, filepath.FromSlash(p))
					if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(f, b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			wantFiles := wantFiles(t, c.dir)
			var paths []string
			for p := range got {
				paths = append(paths, p)
			}
			for p := range wantFiles {
				if _, ok := got[p]; !ok {
					paths = append(paths, p)
				}
			}
			slices.Sort(paths)
			for _, p := range paths {
				g, w := got[p], wantFiles[p]
				switch {
				case w == nil:
					t.Errorf("rendered %s, which is not under %s (run go test ./render -update)", p, want)
				case g == nil:
					t.Errorf("%s/%s was not rendered", want, p)
				case !bytes.Equal(g, w):
					f := filepath.Join(want, filepath.FromSlash(p)) + ".got"
					if err := os.WriteFile(f, g, 0o644); err != nil {
						t.Fatal(err)
					}
					t.Errorf("%s differs from the golden file (got written to %s):\n%s", p, f,
						udiff.Unified("want/"+p, "got/"+p, string(w), string(g)))
				}
			}
		})
	}
}

// TestGoldenFilesAreValidAndCanonical checks each golden file on its own:
// its body passes every check of its kind, including Harness's schema,
// and encoding it again gives the same bytes (gofmt's idempotence check).
func TestGoldenFilesAreValidAndCanonical(t *testing.T) {
	for _, c := range goldenCases(t) {
		for p, file := range wantFiles(t, c.dir) {
			t.Run(c.name+"/"+p, func(t *testing.T) {
				body := Body(file)
				k, ok := KindOfPath(c.settings, p)
				if !ok {
					t.Fatalf("%s is not a path of a rendered kind", p)
				}
				doc, problems := checkEntity(k, body, testSchemas(t))
				if len(problems) > 0 {
					t.Fatalf("golden file fails the checks: %+v", problems)
				}
				var again bytes.Buffer
				if err := encodeCanonical(&again, doc); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again.Bytes(), body) {
					t.Errorf("re-encoding the golden body changes it:\n%s", udiff.Unified("golden", "re-encoded", string(body), again.String()))
				}
				n1, err := Normalize(file)
				if err != nil {
					t.Fatal(err)
				}
				n2, err := Normalize(n1)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(n1, n2) {
					t.Errorf("Normalize is not idempotent:\n%s", udiff.Unified("once", "twice", string(n1), string(n2)))
				}
			})
		}
	}
}

// TestRenderingIsDeterministic renders every case twice, once from several
// goroutines at the same time, and expects the same bytes.
func TestRenderingIsDeterministic(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			first := c.render(t, testSource())
			results := make(chan map[string][]byte, 4)
			for range 4 {
				go func() {
					out, _ := All(c.templates, c.catalog, testOpts(t, c.settings, testSource()))
					results <- out
				}()
			}
			for range 4 {
				again := <-results
				if len(again) != len(first) {
					t.Fatalf("second rendering has %d files, first %d", len(again), len(first))
				}
				for p, b := range first {
					if !bytes.Equal(again[p], b) {
						t.Errorf("%s: two renderings differ:\n%s", p, udiff.Unified("first", "again", string(b), string(again[p])))
					}
				}
			}
		})
	}
}

// TestBodyIgnoresSourceCommits renders from two catalog and template
// commits: the headers name them, the bodies are equal.
func TestBodyIgnoresSourceCommits(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			a := c.render(t, testSource())
			other := testSource()
			other.CatalogCommit = "ffffffffffffffffffffffffffffffffffffffff"
			other.TemplatesCommit = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
			b := c.render(t, other)
			for p := range a {
				if bytes.Equal(a[p], b[p]) {
					t.Errorf("%s: the files from two commits are identical; the header should name the commit", p)
				}
				if !bytes.Equal(Body(a[p]), Body(b[p])) {
					t.Errorf("%s: bodies differ between commits:\n%s", p, udiff.Unified("commit A", "commit B", string(Body(a[p])), string(Body(b[p]))))
				}
			}
		})
	}
}
