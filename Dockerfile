# syntax=docker/dockerfile:1
# cors-authz: a static binary on a distroless base, running as a non-root user.
#   docker build -t cors-authz:dev .
#   docker run --rm -p 9001:9001 -p 9002:9002 cors-authz:dev            # embedded example policy
#   docker run --rm -v "$PWD/policy:/etc/cors-authz:ro" -p 9001:9001 -p 9002:9002 \
#     cors-authz:dev serve --config /etc/cors-authz/policy.yaml

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so source edits reuse the module download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# CGO off: a static binary that needs no libc, so it runs on distroless/static.
# -trimpath: no build-machine paths in the binary; -s -w: no symbol tables.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/cors-authz ./cmd/cors-authz

# distroless/static has CA certificates, tzdata and /etc/passwd entries, and no shell.
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/cors-authz /cors-authz
# 65532 is distroless's "nonroot" user; numeric so runAsNonRoot can verify it.
USER 65532:65532
# 9001: ext_authz gRPC + grpc.health.v1; 9002: admin HTTP (/healthz, /readyz, /metrics, /policy).
EXPOSE 9001 9002
ENTRYPOINT ["/cors-authz"]
CMD ["serve", "--grpc-addr", ":9001", "--admin-addr", ":9002"]
