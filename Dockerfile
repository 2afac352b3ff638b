# costwarden as a small, non-root container running the daemon.
#   docker build -t costwarden .
#   docker run --rm -v "$PWD/thresholds.toml:/etc/costwarden/thresholds.toml:ro" \
#     -e AWS_REGION -e CSS_CONSOLE_USERNAME -e CSS_CONSOLE_PASSWORD costwarden
# One cycle instead of the daemon (e.g. from an external cron / ECS scheduled task):
#   docker run ... costwarden run

# The runtime base: distroless/cc (glibc, CA certificates, no shell; "nonroot" is uid 65532),
# by tag; --build-arg BASE=... for a digest or a stand-in (CI makes one: scripts/ci-image).
ARG BASE=gcr.io/distroless/cc-debian12:nonroot

FROM rust:1-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so code changes rebuild only the crate.
COPY Cargo.toml Cargo.lock ./
# (Cargo.toml names the bench targets, so their files must exist for cargo to read it.)
RUN mkdir -p src/bin benches && echo 'fn main() {}' > src/main.rs && echo 'fn main() {}' > src/bin/bootstrap.rs \
    && echo 'fn main() {}' > benches/scale.rs && echo 'fn main() {}' > benches/detect.rs \
    && touch src/lib.rs && cargo build --release --locked --bin costwarden && rm -rf src benches
COPY src ./src
COPY benches ./benches
COPY thresholds.toml README.md ./
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin costwarden

# checkov:skip=CKV_DOCKER_7: the tag is in ARG BASE above (cc-debian12:nonroot), which checkov does not resolve
FROM ${BASE}
COPY --from=build /src/target/release/costwarden /usr/local/bin/costwarden
COPY --from=build /src/thresholds.toml /etc/costwarden/thresholds.toml
# distroless's "nonroot", by number so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
ENV COSTWARDEN_CONFIG=/etc/costwarden/thresholds.toml \
    COSTWARDEN_LOG_FORMAT=json
# The daemon's heartbeat (costwarden health: a run within two schedule intervals). Exec form:
# the image has no shell. A container running `costwarden run` exits before the first check.
HEALTHCHECK --interval=5m --timeout=10s --start-period=1m --retries=2 \
    CMD ["/usr/local/bin/costwarden", "health"]
ENTRYPOINT ["/usr/local/bin/costwarden"]
CMD ["daemon"]
