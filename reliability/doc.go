// Package reliability holds the reliability suite of pipeline-orchestrator:
// end-to-end tests that run the whole app, as `serve` wires it, against the
// GitHub and Harness stand-ins, and print figures.
//
// The server runs in a child process (the test binary run again), so that a
// kill is a real SIGKILL and a restart starts from the SQLite file alone.
// The stand-ins live in the test process.
//
// Every test checks every kind of entity the app manages (environments,
// infrastructure definitions, Services, pipelines, triggers): Harness must
// end up holding exactly what the final catalog, templates and settings
// render, and replaying Harness's effects must find none done twice.
//
// A short chaos test runs with every `go test ./...`. The full suite sits
// behind the build tag `reliability`:
//
//	go test -tags=reliability -run . -v -timeout 60m ./reliability/...
//
// Each test logs its figures and ends with one summary line starting with
// "RESULT", which RELIABILITY.md quotes. RELIABILITY_SEED fixes the seed of
// the chaos tests.
package reliability
