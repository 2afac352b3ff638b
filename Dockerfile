# costwarden as a small, non-root container running the daemon.
#   docker build -t costwarden .
#   docker run --rm -v "$PWD/thresholds.toml:/etc/costwarden/thresholds.toml:ro" \
#     -e AWS_REGION -e CSS_CONSOLE_USERNAME -e CSS_CONSOLE_PASSWORD costwarden
# One cycle instead of the daemon (e.g. from an external cron / ECS scheduled task):
#   docker run ... costwarden run

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

# distroless/cc: glibc, CA certificates, no shell; "nonroot" is uid 65532.
# checkov:skip=CKV_DOCKER_2: no HEALTHCHECK yet: the daemon serves nothing to probe and the image has no shell (a health command reading the last run is issue 21's)
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/costwarden /usr/local/bin/costwarden
COPY --from=build /src/thresholds.toml /etc/costwarden/thresholds.toml
# distroless's "nonroot", by number so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
ENV COSTWARDEN_CONFIG=/etc/costwarden/thresholds.toml \
    COSTWARDEN_LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/costwarden"]
CMD ["daemon"]
