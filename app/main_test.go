package app_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain runs up to four of this package's tests at once unless
// -parallel says otherwise. Most of them spend their time waiting out
// back-offs and timers, not computing, so the default (one test per
// CPU) leaves machines with few cores idle.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		if err := flag.Set("test.parallel", "4"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
