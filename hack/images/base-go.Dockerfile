# The local stand-in for golang:*-bookworm (images/pause builds with it): Debian's Go toolchain on
# the local base. pause.go needs nothing newer than Go 1.19.
ARG BASE
FROM ${BASE}
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends golang-go \
 && rm -rf /var/lib/apt/lists/*
