# syntax=docker/dockerfile:1
#
# Pacer's container image: build the one binary, then copy it alone onto a small Debian.
#
#   docker build -t pacer .
#   docker run -p 7077:7077 -v pacer-data:/var/lib/pacer \
#       -v ./pacer.toml:/etc/pacer/pacer.toml:ro -e PACER_CONFIG=/etc/pacer/pacer.toml pacer
#
# The container listens on 0.0.0.0:7077 (it must, to be reached through a published port or a
# Kubernetes Service). Pacer refuses to start on an address beyond loopback while it has no
# API tokens: give it `[auth.tokens.<name>]` entries in the mounted pacer.toml (see
# docs/security.md and docs/deployment.md), or, only on a network you trust, set
# `[auth] allow_unauthenticated = true` (PACER_AUTH__ALLOW_UNAUTHENTICATED=true).

# ---- build ------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The slim Rust image already has gcc and libc headers, which the bundled SQLite and ring
# compile with; nothing else is needed.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
# --locked: the image is built from exactly the dependency versions CI tested.
# The cache mounts keep the registry and the target directory between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p pacer \
    && install -m 0755 target/release/pacer /usr/local/bin/pacer

# ---- run --------------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: outgoing HTTPS (GitHub API lookups, Pushgateway) verifies against the
# system roots. Not pinned: it must follow Debian's current roots (the base image is the pin).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 pacer \
    && useradd --system --uid 10001 --gid pacer --home-dir /var/lib/pacer --shell /usr/sbin/nologin pacer \
    && install -d -o pacer -g pacer -m 0750 /var/lib/pacer \
    && install -d -m 0755 /etc/pacer
COPY --from=build /usr/local/bin/pacer /usr/local/bin/pacer

# Never root: a numeric id, so Kubernetes' runAsNonRoot can check it without /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/pacer
# The SQLite database (and its -wal/-shm files) live here; mount a volume to keep them.
VOLUME ["/var/lib/pacer"]
EXPOSE 7077
# Kubernetes and docker stop with SIGTERM: Pacer stops accepting, drains in-flight requests
# and exits; every acknowledged write is already committed.
STOPSIGNAL SIGTERM

# Readiness without curl in the image: bash's /dev/tcp sends one request to /readyz (which
# also pings the database) and checks the status line.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/7077 && printf 'GET /readyz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r status <&3 && [[ $status == 'HTTP/1.1 200'* ]]"]

ENTRYPOINT ["pacer"]
CMD ["serve", "--listen", "0.0.0.0:7077", "--database", "sqlite:///var/lib/pacer/pacer.db"]
