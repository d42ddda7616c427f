# syntax=docker/dockerfile:1
#
# A static, CGO-free build (modernc.org/sqlite is pure Go) in a small
# non-root image. Configuration comes from a mounted file, secrets from the
# environment (PIPELINE_ORCHESTRATOR_*) or mounted *_file paths, and the
# SQLite database lives in the /data volume.
#
#   docker build -t pipeline-orchestrator .
#   docker run -p 8080:8080 -v po-data:/data -v $PWD/config.yml:/etc/pipeline-orchestrator/config.yml:ro \
#     -e PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOK_SECRET=... -e PIPELINE_ORCHESTRATOR_HARNESS_API_KEY=... \
#     pipeline-orchestrator

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/pipeline-orchestrator ./cmd/pipeline-orchestrator \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pipeline-orchestrator /usr/local/bin/pipeline-orchestrator
COPY --from=build --chown=65532:65532 /out/data /data
COPY config.example.yml /etc/pipeline-orchestrator/config.example.yml
USER 65532:65532
VOLUME ["/data"]
ENV PIPELINE_ORCHESTRATOR_STORE_PATH=/data/pipeline-orchestrator.db \
    PIPELINE_ORCHESTRATOR_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/pipeline-orchestrator"]
CMD ["serve", "--config", "/etc/pipeline-orchestrator/config.yml"]
