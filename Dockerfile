# tally in a small runtime image: `tally` is the entrypoint, the lake and the mappings are volumes.
#
#   docker build -t tally .
#   docker run --rm -v "$PWD/lake:/lake" -v "$PWD/mappings:/mappings:ro" -v "$PWD/exports:/exports:ro" \
#     tally ingest /exports
#   docker run --rm -v "$PWD/lake:/lake" -v "$PWD/mappings:/mappings:ro" tally attribute
#
# TALLY_LAKE and TALLY_MAPPINGS point every command at the volumes, so --lake and --mappings
# can be left out. The build stage runs .ci/release-build, the script the release workflow runs.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN .ci/release-build && mkdir /out && tar -xzf dist/tally-*.tar.gz -C /out --strip-components=1

FROM debian:bookworm-slim
# CA certificates for S3 and chat webhooks over HTTPS (rustls with the system's roots).
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin tally \
    && mkdir -p /lake /mappings && chown tally /lake
COPY --from=build /out/tally /usr/local/bin/tally
USER tally
ENV TALLY_LAKE=/lake TALLY_MAPPINGS=/mappings
VOLUME ["/lake", "/mappings"]
ENTRYPOINT ["tally"]
CMD ["--help"]
