# Everyday commands. Nothing here is needed to build: plain go commands work.

.PHONY: demo test test-race lint build image reliability bench

demo:            ## play the whole loop locally and keep the status page up
	go run ./cmd/pipeline-orchestrator-demo

test:            ## the test suite, as CI runs it
	go test ./...

test-race:
	go test -race ./...

lint:
	gofmt -l $$(git ls-files '*.go') | tee /dev/stderr | (! read)
	go vet ./...

build:
	CGO_ENABLED=0 go build -trimpath -o bin/pipeline-orchestrator ./cmd/pipeline-orchestrator

image:
	docker build -t pipeline-orchestrator .

reliability:     ## the full reliability suite (minutes)
	go test -tags=reliability -timeout 60m -v ./reliability/...

bench:
	go test -run '^$$' -bench . -benchmem ./catalog ./render ./store ./outbox ./harness
