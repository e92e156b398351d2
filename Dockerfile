# syntax=docker/dockerfile:1
# Build stage: the same dependency script as the README and CI, build dependencies only (no
# Prometheus, clang, gtest, benchmark or PostgreSQL server: the tests are not built here).
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIDELIGHT_TESTS=OFF \
 && cmake --build /build -j2 \
 && strip /build/sidelight /build/sidelight-audit

# Runtime stage: runtime libraries only, non-root. The packages are those of the libraries the
# binaries link directly (`objdump -p build/sidelight | grep NEEDED`, each file mapped with
# `dpkg -S`; sidelight-audit needs a subset); their own dependencies (Kerberos and LDAP for
# libpq, ...) come with them:
#   libssl.so.3, libcrypto.so.3  libssl3             libpq.so.5             libpq5
#   libsqlite3.so.0              libsqlite3-0        libboost_json.so.1.81.0  libboost-json1.81.0
#   libyaml-cpp.so.0.7           libyaml-cpp0.7      libprometheus-cpp-core.so.1.0  libprometheus-cpp-core1.0
#   libspdlog.so.1.10            libspdlog1.10       libfmt.so.9            libfmt9
#   liburing.so.2                liburing2
#   libstdc++.so.6, libgcc_s.so.1, libc.so.6, libz.so.1: libstdc++6, libgcc-s1, libc6, zlib1g,
#   already in bookworm-slim
# ca-certificates is no library: it is the system trust store that upstream, egress and
# PostgreSQL TLS verify against when no ca_file is given.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libprometheus-cpp-core1.0 libyaml-cpp0.7 \
      libspdlog1.10 libfmt9 libsqlite3-0 libpq5 libssl3 liburing2 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/sidelight --shell /usr/sbin/nologin sidelight \
 && mkdir -p /etc/sidelight /var/lib/sidelight \
 && chown sidelight:sidelight /var/lib/sidelight
COPY --from=build /build/sidelight /build/sidelight-audit /usr/local/bin/
# The image's own config: absolute paths, the store in /var/lib/sidelight (writable by 10001;
# /etc/sidelight is root's), no trusted proxies. deploy/examples/sidelight.yaml is the tour of
# the keys, not a default: its relative store path would land in /etc/sidelight.
COPY deploy/docker/sidelight.yaml /etc/sidelight/sidelight.yaml
USER 10001:10001
# Log lines as JSON for the platform's collector, even under `docker run -t` (the config reads
# log_format from this variable).
ENV SIDELIGHT_LOG_FORMAT=json
WORKDIR /var/lib/sidelight
EXPOSE 8080 9901
ENTRYPOINT ["sidelight"]
CMD ["run", "--config", "/etc/sidelight/sidelight.yaml"]
