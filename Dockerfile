# syntax=docker/dockerfile:1
# ctflow image: one image for every role (agent, processor, topics, collect, run), chosen by the first
# argument. The image runs the compiled JavaScript (dist/, `npm run build`); bin/ctflow.js picks it
# (without sources next to it, the build is all there is), so no TypeScript compiler runs in production.
#   docker build -t ghcr.io/ctflow/ctflow:0.1.0 .
# The image runs as the unprivileged user 10001. Only the agent needs more: root with CAP_NET_ADMIN on the
# host network (conntrack netlink); its manifests (deploy/base/agent-daemonset.yaml, docker-compose.yml)
# grant exactly that. No HEALTHCHECK: Kubernetes probes /healthz and /readyz on the metrics port instead.

ARG NODE_VERSION=20.20.2
ARG GO_VERSION=1.22.12

# Production node_modules only, resolved from the lockfile. Kept out of the final image: npm's cache.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
  && npm cache clean --force

# The compiled CLI: the TypeScript compiler (a dev dependency) runs here only.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
RUN npm run build

# ctflow's netlink conntrack reader (Go standard library only, static): conntrack.reader auto takes it.
FROM golang:${GO_VERSION}-bookworm AS ctnetlink
WORKDIR /src
COPY tools/ctnetlink ./
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ctnetlink .

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ctflow" \
      org.opencontainers.image.description="Linux conntrack to IPFIX flow records with correct timestamps, at cluster scale (Kafka)." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/node:${NODE_VERSION}-bookworm-slim"
# conntrack: the conntrack-tools CLI the agent reads the kernel table with. tini: PID 1 that forwards
# SIGTERM to node and reaps the conntrack children.
RUN apt-get update \
  && apt-get install -y --no-install-recommends conntrack tini \
  && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 ctflow \
  && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
     --shell /usr/sbin/nologin ctflow
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY schemas ./schemas
COPY --from=build /app/dist ./dist
COPY --from=ctnetlink /out/ctnetlink ./.cache/ctnetlink
# Metrics, /healthz and /readyz of every long-running role.
EXPOSE 9464
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/ctflow.js"]
CMD ["--help"]
