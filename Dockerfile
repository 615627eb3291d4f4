# Container image for ecr-exposure-exporter.
#
# Build (with registry access):   docker build -t ecr-exposure-exporter .
# Build offline (vendored crates and local base images): scripts/docker-build-and-smoke.sh
# Run:
#   docker run -p 9847:9847 \
#     -v "$PWD/config.yaml:/etc/ecr-exposure-exporter/config.yaml:ro" \
#     -v ecr-exposure-state:/var/lib/ecr-exposure-exporter \
#     ecr-exposure-exporter --config.file=/etc/ecr-exposure-exporter/config.yaml
#
# Base images are build arguments so that a mirror or a locally imported image can be used
# (BUILDER_IMAGE needs a Rust toolchain >= 1.85 and ca-certificates; RUNTIME_IMAGE needs glibc).
# Legacy-builder compatible: no RUN --mount, no heredocs.
ARG BUILDER_IMAGE=docker.io/library/rust:1.85-slim-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS build
# --locked by default; the offline script adds --offline and a vendored source in .cargo/.
ARG CARGO_BUILD_FLAGS="--locked"
# build.rs records it in --version and ecr_exposure_build_info (.git is not in the context).
ARG REVISION=unknown
ENV ECR_EXPOSURE_REVISION=${REVISION}
WORKDIR /src
COPY . .
RUN cargo build --release ${CARGO_BUILD_FLAGS} --bin ecr-exposure-exporter \
    && install -D -m 0755 target/release/ecr-exposure-exporter /out/usr/local/bin/ecr-exposure-exporter \
    && install -d -m 0755 /out/etc/ecr-exposure-exporter \
    && install -d -m 0700 /out/var/lib/ecr-exposure-exporter

FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="ecr-exposure-exporter" \
      org.opencontainers.image.description="Prometheus exporter that finds AWS ECR repositories exposed by their resource policies" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/your-org/ecr-exposure-exporter" \
      org.opencontainers.image.documentation="https://github.com/your-org/ecr-exposure-exporter#readme"
# TLS roots for the AWS endpoints, from the builder (the runtime image may have none).
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chown=65532:65532 /out/ /
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    ECR_EXPOSURE_STATE__PATH=/var/lib/ecr-exposure-exporter/state.json
# Numeric, so that it works on a base image without /etc/passwd entries (runAsNonRoot checks it).
USER 65532:65532
WORKDIR /var/lib/ecr-exposure-exporter
VOLUME ["/etc/ecr-exposure-exporter", "/var/lib/ecr-exposure-exporter"]
EXPOSE 9847
ENTRYPOINT ["/usr/local/bin/ecr-exposure-exporter"]
CMD ["--web.listen-address=0.0.0.0:9847"]
