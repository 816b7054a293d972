# Multi-stage build: compile in the Rust image, run from a slim Debian as a non-root user.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin paylink

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --create-home paylink
WORKDIR /app
COPY --from=build /src/target/release/paylink /usr/local/bin/paylink
COPY --from=build /src/config /app/config
USER paylink
ENV PAYLINK_ENV=production
EXPOSE 8080
ENTRYPOINT ["paylink"]
CMD ["run"]
