# One image with every kat binary: kat, katalogus, bytes-store, scheduler,
# boefje-runner, normalizer-runner and OpenKAT's run_boefje, run_normalizer
# and show_raw. compose.yaml and deploy/kubernetes/ run it with a different
# command per service. Build: docker build -t kat:latest .
# (tools/tests/deploy.rs checks that every binary copied below exists.)

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p kat-tools --bins \
 && mkdir /out \
 && for bin in kat katalogus bytes-store scheduler boefje-runner normalizer-runner run_boefje run_normalizer show_raw; do \
      cp "target/release/$bin" /out/; \
    done

FROM debian:bookworm-slim
# ca-certificates for https:// services; prlimit (util-linux) caps a local boefje's memory.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates util-linux \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/kat --create-home kat
COPY --from=build /out/ /usr/local/bin/
USER 10001
WORKDIR /var/lib/kat
ENV KAT_DATA_DIR=/var/lib/kat
# bytes-store 8002, katalogus 8003, scheduler 8004, a boefje runner's boefje API 8006.
EXPOSE 8002 8003 8004 8006
CMD ["kat", "serve"]
