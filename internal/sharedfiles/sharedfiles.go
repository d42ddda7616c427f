// Package sharedfiles finds files in the shared folder that sits beside a
// checkout of this module, as ../shared: material the project reads in
// tests and in the sandbox but does not ship, such as the JSON Schemas
// Harness publishes.
//
// Only tests and test wiring use it; the production binary takes such
// files from its flags or from the Harness API instead.
package sharedfiles

import (
	"errors"
	"os"
	"path/filepath"
)

// EnvDir names the environment variable that, when set, is the shared
// folder, instead of ../shared beside the module root.
const EnvDir = "PIPELINE_ORCHESTRATOR_SHARED_DIR"

// Path returns the path of elem (joined) in the shared folder, and whether
// a file or directory exists there. The folder is the directory named by
// $PIPELINE_ORCHESTRATOR_SHARED_DIR when that is set, and otherwise
// <module root>/../shared, where the module root is the nearest directory
// at or above the working directory that holds a go.mod file.
//
// When no module root is found, Path returns "" and false.
func Path(elem ...string) (string, bool) {
	dir, ok := Dir()
	if !ok {
		return "", false
	}
	p := filepath.Join(append([]string{dir}, elem...)...)
	_, err := os.Stat(p)
	return p, err == nil
}

// Dir returns the shared folder as Path finds it, and false when there is
// no module root to find it from. It does not check that the folder exists.
func Dir() (string, bool) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, true
	}
	root, err := moduleRoot()
	if err != nil {
		return "", false
	}
	return filepath.Join(filepath.Dir(root), "shared"), true
}

// moduleRoot walks up from the working directory to the first directory
// holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && fi.Mode().IsRegular() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}
