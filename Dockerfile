# syntax=docker/dockerfile:1
# Build stage: the same dependency script as the README and CI.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIDELIGHT_TESTS=OFF \
 && cmake --build /build -j2 \
 && strip /build/sidelight /build/sidelight-audit

# Runtime stage: runtime libraries only, non-root.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libprometheus-cpp-core1.0 libyaml-cpp0.7 \
      libspdlog1.10 libfmt9 libsqlite3-0 libpq5 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/sidelight --shell /usr/sbin/nologin sidelight \
 && mkdir -p /etc/sidelight /var/lib/sidelight \
 && chown sidelight:sidelight /var/lib/sidelight
COPY --from=build /build/sidelight /build/sidelight-audit /usr/local/bin/
COPY deploy/examples/sidelight.yaml /etc/sidelight/sidelight.yaml
USER 10001:10001
# Log lines as JSON for the platform's collector, even under `docker run -t` (the example
# config reads log_format from this variable).
ENV SIDELIGHT_LOG_FORMAT=json
WORKDIR /var/lib/sidelight
EXPOSE 8080 9901
ENTRYPOINT ["sidelight"]
CMD ["run", "--config", "/etc/sidelight/sidelight.yaml"]
