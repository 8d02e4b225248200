# The replicator image: one static binary that runs as serve, worker or
# migrate (the first argument picks the command, e.g. `docker run IMAGE serve`).
# docker-compose.yml builds it; cmd/replicator/compose_test.go checks this file.

# --- build stage -----------------------------------------------------------
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, as their own layer: it is rebuilt only when go.mod or go.sum
# change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO_ENABLED=0 makes a static binary (no libc, no dynamic loader), so the
# final stage needs nothing from the build image. The cache mount keeps Go's
# build cache between image builds (BuildKit, the default builder).
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/replicator ./cmd/replicator

# --- final stage -----------------------------------------------------------
# Alpine rather than distroless or scratch: the binary has no probe command,
# so Docker health checks need an HTTP client inside the image, and Alpine's
# BusyBox wget (about 8 MB in all) gives one, plus /bin/sh for debugging with
# `docker compose exec`. ca-certificates lets workers reach TLS Kafka clusters
# and AWS Secrets Manager.
FROM alpine:3.22
# /certs belongs to the service's user, so that a named volume mounted
# there (docker-compose's `certs`) starts out writable by `replicator certs`.
RUN apk add --no-cache ca-certificates \
    && addgroup -S -g 65532 replicator \
    && adduser -S -D -H -u 65532 -G replicator -s /sbin/nologin replicator \
    && mkdir -p /certs && chown 65532:65532 /certs
COPY --from=build /out/replicator /replicator
# Non-root; numeric so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# 8080: serve (REPLICATOR_LISTEN_ADDR); 9090: worker /healthz and /metrics
# (REPLICATOR_WORKER_LISTEN_ADDR); 9091: serve's metrics and probes when
# REPLICATOR_METRICS_LISTEN_ADDR is :9091, as in docker-compose.yml.
EXPOSE 8080 9090 9091
ENTRYPOINT ["/replicator"]
CMD ["serve"]
